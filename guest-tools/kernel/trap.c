#include "trap.h"

#include "apic.h"
#include "console.h"
#include "guest_abi.h"
#include "proc.h"
#include "sched.h"
#include "uspace.h"
#include "x86.h"

#define PF_PRESENT 1u /* error code bit 0: protection violation rather than not-present */

static const char *const kNames[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "rsvd", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

__attribute__((noreturn)) static void fatal(const struct trap_frame *f, uint64_t cr2) {
  int user = (f->cs & 3) == 3;
  const char *name = f->vector < 32 && kNames[f->vector] ? kNames[f->vector] : "interrupt";
  if (user)
    kprintf("fatal: user fault %s (vector %lu) pid=%d rip=%#lx cr2=%#lx err=%#lx\n", name,
            f->vector, current->pid, f->rip, cr2, f->error);
  else
    kprintf("fatal: kernel fault %s (vector %lu) rip=%#lx cr2=%#lx err=%#lx\n", name, f->vector,
            f->rip, cr2, f->error);
  guest_exit(user ? EXIT_USER_FAULT : EXIT_KERNEL_FAULT);
}

/* Not-present faults inside a process's anonymous regions are demand-zero fills, whether
 * the access came from the process or from the kernel reading its buffer. */
static int page_fault(const struct trap_frame *f, uint64_t cr2) {
  if ((f->error & PF_PRESENT) || !current || cr2 < USER_BASE || cr2 >= USER_TOP) return -1;
  int r = uspace_fault(&current->us, cr2);
  if (r == USPACE_NOMEM) {
    kprintf("fatal: out of memory pid=%d rip=%#lx cr2=%#lx\n", current->pid, f->rip, cr2);
    guest_exit(EXIT_USER_FAULT);
  }
  return r;
}

void trap_dispatch(struct trap_frame *f) {
  switch (f->vector) {
    case VEC_TIMER:
      apic_tick();
      if ((f->cs & 3) == 3) sched_yield();
      return;
    case VEC_SPURIOUS:
      return; /* no EOI for spurious interrupts (SDM Vol. 3A 13.9) */
    case VEC_PF: {
      uint64_t cr2 = read_cr2();
      if (page_fault(f, cr2) == 0) return;
      fatal(f, cr2);
    }
    default:
      fatal(f, read_cr2());
  }
}
