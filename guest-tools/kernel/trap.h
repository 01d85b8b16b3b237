/* Interrupt, exception and syscall entry: the saved user/kernel state and its dispatch.
 *
 * Every entry (the 256 IDT stubs and SYSCALL) builds the same trap_frame on the kernel stack,
 * so a context switch can resume a process whichever way it entered.
 *
 *   idt_init();                        // IDT with all 256 vectors, #DF on its own stack
 *   syscall_init();                    // EFER.SCE, STAR, LSTAR, FMASK, GS bases
 */
#pragma once

#define VEC_DF 8
#define VEC_PF 14
#define VEC_TIMER 32
#define VEC_SPURIOUS 0xff
#define VEC_SYSCALL 0x100 /* not a vector: marks frames built by the SYSCALL entry */

#define PERCPU_KSTACK_TOP 0 /* gs: offsets of struct percpu, for the entry code */
#define PERCPU_USER_RSP 8

#ifndef __ASSEMBLER__
#include <stdint.h>

struct trap_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU (or mimicked by SYSCALL entry) */
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "isr.S pushes 22 qwords");

/* Per-CPU data reached through GS in the entry code. */
struct percpu {
  uint64_t kstack_top; /* PERCPU_KSTACK_TOP: kernel stack of the current process */
  uint64_t user_rsp;   /* PERCPU_USER_RSP: scratch during SYSCALL entry */
};
extern struct percpu percpu;

void idt_init(void);
void syscall_init(void);

/* C side of the entry stubs. */
void trap_dispatch(struct trap_frame *f);
void syscall_dispatch(struct trap_frame *f);

/* isr.S: pops a trap_frame and IRETQs; where a new process's first switch returns to. */
void trap_return(void);
#endif
