/* Thin wrappers over the system instructions the kernel uses. Each one is on the list the
 * densevm interpreter implements (check-insns.sh enforces that list on the built image).
 *
 *   outb(0x21, 0xff);
 *   wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
 */
#pragma once

#include <stdint.h>

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define MSR_FS_BASE 0xc0000100u
#define MSR_GS_BASE 0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u

#define EFER_SCE (1u << 0) /* SYSCALL enable */
#define CR0_WP (1u << 16)  /* supervisor writes honour read-only pages */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

static inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v) {
  __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t read_cr0(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr0, %0" : "=r"(v));
  return v;
}
static inline void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory"); }
static inline uint64_t read_cr2(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr2, %0" : "=r"(v));
  return v;
}
static inline uint64_t read_cr3(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr3, %0" : "=r"(v));
  return v;
}
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }

static inline void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory"); }

/* Page-sized zeroing with one REP STOSQ: the interpreter runs it as a bulk store. */
static inline void zero_page(void *p) {
  void *d = p;
  uint64_t n = 512;
  __asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ull) : "memory");
}

/* STI's one-instruction interrupt shadow makes "sti; hlt" race-free: a pending interrupt
 * is taken only once HLT has started, so no wake-up is lost. */
static inline void idle_halt(void) { __asm__ volatile("sti; hlt; cli" ::: "memory"); }

static inline __attribute__((noreturn)) void halt_forever(void) {
  for (;;) __asm__ volatile("cli; hlt");
}
