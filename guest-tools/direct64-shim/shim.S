/* A stand-in for the densevm VMM's direct 64-bit entry, so that QEMU exercises _start64:
 *
 *   qemu-system-x86_64 -M microvm -kernel direct64-shim.elf \
 *       -device loader,file=densevm-guest.elf -append "workload=hello" ...
 *
 * QEMU boots this shim through PVH; the generic loader puts the guest kernel in RAM. The
 * shim then does what the VMM promises and nothing more: it copies the start info, memory
 * map and command line, and builds its own GDT and 2 MiB identity page tables, all right
 * after the kernel image, in RAM the kernel's page allocator hands out first. It enters
 * _start64 in long mode, interrupts off, CS=0x08 SS=0x10, RDI = RBX = start info and a
 * garbage RSP. A kernel that kept using any of that would crash or misread its boot info.
 * _start64 and _kernel_end come from the kernel ELF (ld --just-symbols). */

#define PML4 0x0000     /* offsets from _kernel_end */
#define PDPT 0x1000
#define PD 0x2000       /* four tables: 0..4 GiB */
#define GDT 0x6000
#define START_INFO 0x6100
#define MEMMAP 0x6200
#define CMDLINE 0x7000
#define CMDLINE_MAX 0xfff

	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad shim_start32
	.balign 4

	.section .text
	.code32
	.globl shim_start32
shim_start32:
	cli
	cld
	movl %ebx, %esi
	movl $_kernel_end, %ebp

	/* Start info (56 bytes), then its memmap and cmdline, with the pointers redirected. */
	leal START_INFO(%ebp), %edi
	movl $56, %ecx
	rep movsb
	movl 0x28(%ebx), %esi           /* memmap_paddr */
	leal MEMMAP(%ebp), %edi
	movl %edi, START_INFO+0x28(%ebp)
	imull $24, 0x30(%ebx), %ecx     /* memmap_entries */
	rep movsb
	movl 0x10(%ebx), %esi           /* cmdline_paddr */
	leal CMDLINE(%ebp), %edi
	movl %edi, START_INFO+0x10(%ebp)
	movl $CMDLINE_MAX, %ecx
1:	lodsb
	stosb
	testb %al, %al
	loopnz 1b
	movb $0, (%edi)

	/* Page tables: zero six pages, then link them and fill 2048 2 MiB entries. */
	movl %ebp, %edi
	xorl %eax, %eax
	movl $6 * 1024, %ecx
	rep stosl
	leal PDPT+3(%ebp), %eax
	movl %eax, PML4(%ebp)
	leal PD+3(%ebp), %eax
	xorl %ecx, %ecx
2:	movl %eax, PDPT(%ebp,%ecx,8)
	addl $0x1000, %eax
	incl %ecx
	cmpl $4, %ecx
	jne 2b
	movl $0x83, %eax                /* P | W | PS */
	xorl %ecx, %ecx
3:	movl %eax, PD(%ebp,%ecx,8)
	addl $0x200000, %eax
	incl %ecx
	cmpl $2048, %ecx
	jne 3b

	/* GDT: null, 0x08 64-bit code, 0x10 data; its pointer in the two qwords after it. */
	movl $0, GDT(%ebp)
	movl $0, GDT+4(%ebp)
	movl $0x0000ffff, GDT+8(%ebp)
	movl $0x00af9a00, GDT+12(%ebp)
	movl $0x0000ffff, GDT+16(%ebp)
	movl $0x00cf9200, GDT+20(%ebp)
	movw $23, GDT+32(%ebp)
	leal GDT(%ebp), %eax
	movl %eax, GDT+34(%ebp)
	lgdt GDT+32(%ebp)

	movl %ebp, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax                /* EFER.LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax           /* PG | PE */
	movl %eax, %cr0
	ljmp $0x08, $4f

	.code64
4:	movl $0x10, %eax
	movl %eax, %ss
	movl %eax, %ds
	movl %eax, %es
	movl %ebp, %edi
	addq $START_INFO, %rdi
	movq %rdi, %rbx
	movabsq $0xdead0000dead0000, %rsp
	movabsq $_start64, %rax
	jmp *%rax
