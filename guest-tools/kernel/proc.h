/* Processes: ring-3 programs from the embedded workload image, each with its own address
 * space and kernel stack. pid 1 is the workload the command line names; when it exits, the
 * guest exits with its status.
 *
 *   int pid = proc_spawn(entry, arg0, arg1, NULL);   // from the SPAWN syscall
 *
 * Blocking on processes (exit, wait) is the scheduler's: sched_exit and sched_wait (sched.h).
 */
#pragma once

#include <stdint.h>

#include "uspace.h"

#define MAX_PROCS 32
#define KSTACK_SIZE 8192

enum proc_state {
  PROC_FREE,
  PROC_RUNNABLE,
  PROC_RUNNING,
  PROC_SLEEPING, /* until ticks >= wake_tick */
  PROC_WAITING,  /* for child wait_pid to exit */
  PROC_ZOMBIE,   /* exited, status kept for the parent */
};

struct proc {
  int pid, parent; /* parent 0: nobody will wait */
  enum proc_state state;
  struct uspace us;
  uint64_t ksp; /* kernel RSP saved by swtch */
  uint64_t wake_tick;
  int wait_pid;
  int64_t status;
};

extern struct proc procs[MAX_PROCS];
extern struct proc *current; /* NULL while the scheduler runs */

uint64_t proc_kstack_top(const struct proc *p);

/* Starts entry(arg0, arg1) in ring 3. With str, the string is copied to the top of the new
 * user stack and arg0 becomes its user address. Returns the pid, or -1. */
int proc_spawn(uint64_t entry, uint64_t arg0, uint64_t arg1, const char *str);

/* The live process with this pid, or NULL. */
struct proc *proc_find(int pid);

/* Ends the current process with status: frees its address space, orphans its children,
 * leaves it a zombie for its parent (waking the parent if it waits for it) or frees it.
 * The guest exits instead when it is pid 1. The caller then switches away for good. */
void proc_finish(int64_t status);
