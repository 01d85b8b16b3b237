/* Round-robin scheduler on one CPU. The kernel runs with interrupts off; the timer preempts
 * only ring 3, and the idle loop halts with interrupts on (virtual time on densevm jumps
 * ahead while every vCPU halts).
 *
 *   sched_sleep(10);     // current process, 10 ticks
 *   int64_t status = sched_wait(pid);   // a child's exit status
 *   sched_run();         // boot: never returns
 */
#pragma once

#include <stdint.h>

__attribute__((noreturn)) void sched_run(void);

/* The current process stays runnable and lets the others run. */
void sched_yield(void);
/* Halts the current process until n ticks have passed (n = 0 yields). */
void sched_sleep(uint64_t n);
/* Ends the current process (proc_finish) and runs the others; never returns. */
__attribute__((noreturn)) void sched_exit(int64_t status);
/* Exit status of child pid (waiting for it if needed), or -1 if pid is not our child. */
int64_t sched_wait(int pid);
/* Switches away from the current process, whose state the caller has already set. */
void sched_switch(void);
