/* SYSCALL entry (SDM Vol. 2B, SYSCALL): RCX = user RIP, R11 = user RFLAGS, RSP still the
 * user's, interrupts off via FMASK. We switch to the process's kernel stack through GS,
 * build the same trap_frame as an interrupt, and leave with SYSRETQ. RCX is canonical on
 * the way back because user mappings end below USER_TOP. */
#include "gdt.h"
#include "trap.h"

	.section .text
	.globl syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:PERCPU_USER_RSP
	movq %gs:PERCPU_KSTACK_TOP, %rsp
	pushq $SEL_UDATA
	pushq %gs:PERCPU_USER_RSP
	pushq %r11
	pushq $SEL_UCODE
	pushq %rcx
	pushq $0
	pushq $VEC_SYSCALL
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	call syscall_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp           /* vector, error code */
	popq %rcx                /* RIP */
	addq $8, %rsp            /* CS */
	popq %r11                /* RFLAGS */
	popq %rsp                /* user RSP; interrupts are still off */
	swapgs
	sysretq
