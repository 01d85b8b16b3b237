/* IDT entry stubs and the common trap path.
 *
 * 256 stubs, 16 bytes apart (each is at most 12: push imm8, push imm32, jmp rel32), so
 * idt.c computes stub addresses. Each pushes a zero error
 * code where the CPU pushes none (SDM Vol. 3A 7.15 lists the vectors that have one), then
 * the vector, and joins trap_common, which completes a struct trap_frame. */
#include "gdt.h"
#include "trap.h"

	.section .text
	.balign 16
	.globl trap_stubs
trap_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) | (vec == 10) | (vec == 11) | (vec == 12) | (vec == 13) | (vec == 14) | (vec == 17) | (vec == 21) | (vec == 29) | (vec == 30)
	pushq $vec
	.else
	pushq $0
	pushq $vec
	.endif
	jmp trap_common
	.set vec, vec + 1
	.endr

trap_common:
	testb $3, 24(%rsp)       /* CS of the interrupted context: came from ring 3? */
	jz 1f
	swapgs
1:	pushq %rax
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
	pushq $2                 /* RFLAGS with DF=0 (C code assumes it), IF stays 0 */
	popfq
	movq %rsp, %rdi
	call trap_dispatch

	.globl trap_return
trap_return:
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
	testb $3, 24(%rsp)
	jz 2f
	swapgs
2:	addq $16, %rsp           /* vector, error code */
	iretq
