/* swtch(uint64_t *save_rsp, uint64_t next_rsp): saves the callee-saved registers on the
 * current kernel stack, stores RSP, and resumes the context whose stack is next_rsp. A new
 * process's stack is prepared so that the RET lands in trap_return. */
	.section .text
	.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
