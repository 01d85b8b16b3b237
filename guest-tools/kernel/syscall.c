#include "apic.h"
#include "bootinfo.h"
#include "lib/kv.h"
#include "console.h"
#include "gdt.h"
#include "guest_abi.h"
#include "proc.h"
#include "sched.h"
#include "trap.h"
#include "x86.h"

/* RFLAGS bits cleared on SYSCALL: TF, IF, DF, IOPL, NT, AC (the kernel runs with IF=0). */
#define SYSCALL_FMASK 0x47700ull

struct percpu percpu;

void syscall_entry(void);

void syscall_init(void) {
  wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
  wrmsr(MSR_STAR, (uint64_t)STAR_SYSRET_BASE << 48 | (uint64_t)SEL_KCODE << 32);
  wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
  wrmsr(MSR_FMASK, SYSCALL_FMASK);
  /* Kernel-side convention: GS_BASE = &percpu while in the kernel; SWAPGS on every
   * ring-3 boundary exchanges it with KERNEL_GS_BASE (the user's, 0). */
  wrmsr(MSR_FS_BASE, 0);
  wrmsr(MSR_GS_BASE, (uint64_t)&percpu);
  wrmsr(MSR_KERNEL_GS_BASE, 0);
}

static int64_t sys_write(uint64_t buf, uint64_t len) {
  if (!len) return 0;
  if (!uspace_readable(&current->us, buf, len)) return -1;
  console_write((const char *)buf, len); /* may demand-fault in the user's pages */
  return (int64_t)len;
}

/* The VM generation id (in the spirit of VMGenID): 16 bytes at the guest-physical address
 * the VMM names with vmgenid= on the command line, rewritten by the VMM whenever the VM is
 * restored from a snapshot or cloned. Read through the kernel's identity map on every call,
 * so a workload sees a new id as soon as it runs in a new copy. All zeros: no id (QEMU). */
static int64_t sys_genid(uint64_t half) {
  static int parsed;
  static uint64_t pa;
  if (!parsed) {
    parsed = 1;
    if (kv_u64(boot_info.cmdline, "vmgenid", &pa) <= 0 || pa < 0x1000 || pa > 0x100000 - 16 || (pa & 7))
      pa = 0;
  }
  if (!pa || half > 1) return 0;
  return (int64_t)((volatile const uint64_t *)pa)[half];
}

static int64_t sys_map(uint64_t addr, uint64_t len) {
  uint64_t at = uspace_map(&current->us, addr, len);
  return at ? (int64_t)at : -1;
}

void syscall_dispatch(struct trap_frame *f) {
  uint64_t a0 = f->rdi, a1 = f->rsi, a2 = f->rdx;
  int64_t ret = -1;
  switch (f->rax) {
    case SYS_WRITE: ret = sys_write(a0, a1); break;
    case SYS_EXIT: sched_exit((int64_t)a0);
    case SYS_MAP: ret = sys_map(a0, a1); break;
    case SYS_UNMAP: ret = uspace_unmap(&current->us, a0, a1); break;
    case SYS_TICKS: ret = (int64_t)ticks; break;
    case SYS_SLEEP: sched_sleep(a0); ret = 0; break;
    case SYS_SPAWN: ret = proc_spawn(a0, a1, a2, 0); break;
    case SYS_WAIT: ret = sched_wait((int)a0); break;
    case SYS_PROTECT: ret = uspace_protect(&current->us, a0, a1, (int)a2); break;
    case SYS_GENID: ret = sys_genid(a0); break;
    case SYS_MARK: outl(0xf6, (uint32_t)a0); ret = 0; break; /* densevm: marker; QEMU: ignored */
  }
  f->rax = (uint64_t)ret;
}
