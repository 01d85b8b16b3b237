#include "sched.h"

#include "apic.h"
#include "balloon.h"
#include "console.h"
#include "gdt.h"
#include "proc.h"
#include "trap.h"
#include "x86.h"

void swtch(uint64_t *save_rsp, uint64_t next_rsp);

static uint64_t scheduler_rsp;
static int last_slot;

static struct proc *pick_next(void) {
  for (int i = 1; i <= MAX_PROCS; i++) {
    int slot = (last_slot + i) % MAX_PROCS;
    struct proc *p = &procs[slot];
    if (p->state == PROC_SLEEPING && ticks >= p->wake_tick) p->state = PROC_RUNNABLE;
    if (p->state == PROC_RUNNABLE) {
      last_slot = slot;
      return p;
    }
  }
  return 0;
}

void sched_run(void) {
  for (;;) {
    balloon_poll(); /* once per tick: every tick comes back through here */
    struct proc *p = pick_next();
    if (!p) {
      idle_halt();
      continue;
    }
    p->state = PROC_RUNNING;
    current = p;
    percpu.kstack_top = proc_kstack_top(p);
    tss_set_rsp0(percpu.kstack_top);
    if (read_cr3() != p->us.pml4) write_cr3(p->us.pml4);
    swtch(&scheduler_rsp, p->ksp);
    current = 0;
  }
}

void sched_switch(void) { swtch(&current->ksp, scheduler_rsp); }

void sched_yield(void) {
  current->state = PROC_RUNNABLE;
  sched_switch();
}

void sched_sleep(uint64_t n) {
  if (!n) {
    sched_yield();
    return;
  }
  current->wake_tick = ticks + n;
  current->state = PROC_SLEEPING;
  sched_switch();
}

void sched_exit(int64_t status) {
  proc_finish(status);
  sched_switch();
  panic("an exited process was resumed");
}

int64_t sched_wait(int pid) {
  struct proc *child = proc_find(pid);
  if (!child || child->parent != current->pid) return -1;
  while (child->state != PROC_ZOMBIE) {
    current->wait_pid = pid;
    current->state = PROC_WAITING;
    sched_switch();
  }
  child->state = PROC_FREE;
  return child->status;
}
