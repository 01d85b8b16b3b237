/* ptchurn: page-table churn. Each round starts CHILDREN short-lived processes (a fresh
 * address space each) that map, touch sparsely and densely, verify and unmap memory, while
 * the parent runs its own map/touch/unmap cycle at a new address every round. */
#include "ulib.h"
#include "workloads.h"

#define PAGE 4096ull
#define CHILDREN 4

/* Writes a tag to every stride-th page of a fresh len-byte region, reads it back, unmaps.
 * Returns the pages touched, or -1 on a wrong value or failed syscall. */
static long cycle(uint64_t len, uint64_t stride, uint64_t tag) {
  long base = sys_map(0, len);
  if (base < 0) return -1;
  long pages = 0;
  for (uint64_t off = 0; off < len; off += stride, pages++)
    *(volatile uint64_t *)(base + off) = tag ^ off;
  for (uint64_t off = 0; off < len; off += stride)
    if (*(volatile uint64_t *)(base + off) != (tag ^ off)) return -1;
  return sys_unmap((uint64_t)base, len) == 0 ? pages : -1;
}

/* 4 MiB sparsely (64 pages over two page tables), then 512 KiB densely. */
static long child(uint64_t tag) {
  return cycle(4ull << 20, 64 * 1024, tag) == 64 && cycle(512 * 1024, PAGE, ~tag) == 128 ? 0 : 1;
}

int ptchurn_main(const char *cmdline) {
  uint64_t rounds = arg_u64(cmdline, "rounds", 64);
  uint64_t procs = 0, pages = 0, failed = 0;
  for (uint64_t r = 0; r < rounds; r++) {
    long pids[CHILDREN];
    for (int c = 0; c < CHILDREN; c++) {
      pids[c] = spawn(child, r * CHILDREN + c);
      if (pids[c] < 0) failed++;
      else procs++;
    }
    long own = cycle(2ull << 20, 8 * PAGE, r);
    if (own < 0) failed++;
    else pages += (uint64_t)own;
    for (int c = 0; c < CHILDREN; c++) {
      if (pids[c] < 0) continue;
      if (sys_wait(pids[c]) != 0) failed++;
      else pages += 64 + 128;
    }
  }
  if (failed) {
    uprintf("ptchurn failed %lu of %lu rounds' steps\n", failed, rounds);
    return EXIT_WORKLOAD_FAILED;
  }
  uprintf("ptchurn ok rounds=%lu procs=%lu pages=%lu\n", rounds, procs, pages);
  return EXIT_OK;
}
