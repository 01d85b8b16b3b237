/* The workload image, built from user/ as user.bin (found through the assembler's -I). */
	.section .rodata.user_image, "a"
	.balign 4096
	.globl user_image_start
user_image_start:
	.incbin "user.bin"
	.globl user_image_end
user_image_end:
