/* PVH entry (Xen's HVM direct boot ABI, as QEMU -kernel implements it): 32-bit protected
 * mode, paging off, flat segments, EBX = hvm_start_info, no stack. We turn on PAE paging
 * with the boot page tables, set EFER.LME and enable paging (Intel SDM Vol. 3A 10.8.5,
 * "Initializing IA-32e Mode"), then far-jump into 64-bit code.
 *
 * This stub is the only 32-bit code and the only far jump; it runs only under PVH loaders,
 * and lives in its own section so that check-insns.sh can leave it out. */
#include "gdt.h"

	.section .note.Xen, "a", @note
	.balign 4
	.long 4         /* namesz */
	.long 8         /* descsz: QEMU reads a pointer-sized value */
	.long 18        /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.balign 4
	.quad pvh_start32
	.balign 4

	.section .boot32, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	movl %ebx, %edi
	lgdt gdt_ptr
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax          /* CR4.PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx   /* EFER */
	rdmsr
	orl $0x100, %eax         /* EFER.LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax    /* CR0.PG | CR0.PE */
	movl %eax, %cr0
	ljmp $SEL_KCODE, $1f

	.code64
1:	movl %edi, %edi          /* upper halves are undefined after the mode switch */
	leaq boot_stack_top(%rip), %rsp
	jmp long_mode_common
