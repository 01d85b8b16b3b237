/* What ring-3 workloads have: syscall wrappers, printing, command-line arguments, and
 * spawning child processes from a function of this image.
 *
 *   long addr = sys_map(0, 1 << 20);
 *   uprintf("memfill ok %016lx\n", sum);
 *   uint64_t n = arg_u64(cmdline, "rounds", 64);   // exits with EXIT_BAD_ARGS if malformed
 *   long pid = spawn(child, 7);  long status = sys_wait(pid);
 */
#pragma once

#include <stdint.h>

#include "guest_abi.h"

static inline long syscall3(long nr, long a0, long a1, long a2) {
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a0), "S"(a1), "d"(a2)
                   : "rcx", "r11", "memory");
  return ret;
}

static inline long sys_write(const void *buf, uint64_t len) {
  return syscall3(SYS_WRITE, (long)buf, (long)len, 0);
}
__attribute__((noreturn)) static inline void sys_exit(long status) {
  syscall3(SYS_EXIT, status, 0, 0);
  __builtin_unreachable();
}
static inline long sys_map(uint64_t addr, uint64_t len) { return syscall3(SYS_MAP, (long)addr, (long)len, 0); }
static inline long sys_unmap(uint64_t addr, uint64_t len) { return syscall3(SYS_UNMAP, (long)addr, (long)len, 0); }
static inline long sys_protect(uint64_t addr, uint64_t len, int writable) {
  return syscall3(SYS_PROTECT, (long)addr, (long)len, writable);
}
static inline void sys_mark(long value) { syscall3(SYS_MARK, value, 0, 0); }
static inline uint64_t sys_genid(int half) { return (uint64_t)syscall3(SYS_GENID, half, 0, 0); }
static inline uint64_t sys_ticks(void) { return (uint64_t)syscall3(SYS_TICKS, 0, 0, 0); }
static inline void sys_sleep(uint64_t ticks) { syscall3(SYS_SLEEP, (long)ticks, 0, 0); }
static inline long sys_wait(long pid) { return syscall3(SYS_WAIT, pid, 0, 0); }

/* Runs fn(arg) in a new process (fresh address space, same image); its return value is the
 * exit status. Returns the pid or -1. */
long spawn(long (*fn)(uint64_t), uint64_t arg);

void uprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Value of key on the command line, or def when absent. A malformed value is reported and
 * the process exits with EXIT_BAD_ARGS. */
uint64_t arg_u64(const char *cmdline, const char *key, uint64_t def);

/* Zeroes one 4 KiB page with REP STOSQ (a single bulk store on densevm). */
static inline void page_zero(void *p) {
  void *d = p;
  uint64_t n = 512;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
}
