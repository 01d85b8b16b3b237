/* tlbwalk: read-modify-write of random qwords over a large working set, so nearly every
 * access misses a small TLB. Pages are demand-faulted in the (random) order of first touch.
 * The PRNG is seeded with seed= (default 7), not vm=, so every VM computes the same sum. */
#include "mix.h"
#include "ulib.h"
#include "workloads.h"

#define PAGE 4096ull

int tlbwalk_main(const char *cmdline) {
  uint64_t size = arg_u64(cmdline, "size", 32ull << 20);
  uint64_t steps = arg_u64(cmdline, "steps", 1000000);
  uint64_t x = mix64(arg_u64(cmdline, "seed", 7)) | 1;
  uint64_t pages = (size + PAGE - 1) / PAGE;
  if (!pages || pages >> 32) {
    uprintf("tlbwalk: size must be between 1 byte and 16 TiB\n");
    return EXIT_BAD_ARGS;
  }
  long base = sys_map(0, pages * PAGE);
  if (base < 0) {
    uprintf("tlbwalk: cannot map %lu pages\n", pages);
    return EXIT_WORKLOAD_FAILED;
  }
  uint64_t sum = 0;
  for (uint64_t i = 0; i < steps; i++) {
    x = xorshift64(x);
    uint64_t page = ((x >> 32) * pages) >> 32; /* uniform in [0, pages) without a divide */
    uint64_t *q = (uint64_t *)(base + page * PAGE) + (x & 511);
    *q += x;
    sum = (sum ^ *q) * 0x100000001b3ull;
  }
  uprintf("tlbwalk ok %016lx steps=%lu pages=%lu\n", sum, steps, pages);
  return EXIT_OK;
}
