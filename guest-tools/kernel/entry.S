/* Direct 64-bit entry (ELF e_entry) and the long-mode path both entries share.
 *
 * The densevm VMM enters _start64 in long mode with its own page tables and GDT, RSP
 * undefined and RDI = RBX = hvm_start_info. We move to our stack, our boot page tables and
 * our GDT before any C runs, so that nothing the loader built stays live (its tables may sit
 * in RAM the page allocator will hand out). */
#include "gdt.h"

	.section .text
	.globl _start64
_start64:
	cli
	leaq boot_stack_top(%rip), %rsp
	movl $boot_pml4, %eax
	movq %rax, %cr3

/* In: long mode, boot page tables, a stack, RDI = hvm_start_info physical address. */
	.globl long_mode_common
long_mode_common:
	lgdt gdt_ptr(%rip)
	movl $SEL_KDATA, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	/* No far jump in our ISA subset: reload CS with LRETQ. */
	pushq $SEL_KCODE
	leaq 1f(%rip), %rax
	pushq %rax
	lretq
1:
	call kmain
2:	cli
	hlt
	jmp 2b

/* Boot page tables: 0..4 GiB identity-mapped with 2 MiB pages, built by the assembler so
 * both entries can load them without running code first. kmain replaces them. */
	.section .data
	.balign 4096
	.globl boot_pml4
boot_pml4:
	.quad boot_pdpt + 0x3 /* P | W */
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + 0x3
	.quad boot_pd + 0x1000 + 0x3
	.quad boot_pd + 0x2000 + 0x3
	.quad boot_pd + 0x3000 + 0x3
	.fill 508, 8, 0
boot_pd:
	.set addr, 0
	.rept 2048
	.quad addr | 0x83 /* P | W | PS */
	.set addr, addr + 0x200000
	.endr

	.section .bss
	.balign 16
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
