#include "ulib.h"
#include "workloads.h"

/* The VM generation id from a workload's side: for ticks=N timer ticks it reads the id once
 * per tick, and whenever it differs from the last one (at start, then after every restore or
 * clone of a snapshot taken during the run) prints it with a number drawn from a generator
 * seeded by it, which is how a workload re-seeds so that clones of one snapshot diverge. */
static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The id is 16 bytes read 8 at a time, and a restore can land between any two instructions:
 * read it twice and accept only two equal reads, so a torn id is never used. */
static void read_genid(uint64_t *lo, uint64_t *hi) {
  for (;;) {
    uint64_t l = sys_genid(0), h = sys_genid(1);
    if (l == (uint64_t)sys_genid(0) && h == (uint64_t)sys_genid(1)) {
      *lo = l;
      *hi = h;
      return;
    }
  }
}

int genid_main(const char *cmdline) {
  uint64_t n = arg_u64(cmdline, "ticks", 100);
  uint64_t lo = 0, hi = 0, changes = 0;
  for (uint64_t t = 0;; t++) {
    uint64_t l, h;
    read_genid(&l, &h);
    if (l != lo || h != hi) {
      lo = l;
      hi = h;
      changes++;
      uint64_t seed = l ^ (h * 0x9e3779b97f4a7c15ull);
      uprintf("genid %016lx%016lx draw %016lx tick %lu\n", h, l, splitmix64(&seed), t);
    }
    if (t >= n) break;
    sys_sleep(1);
  }
  uprintf("genid ok changes=%lu\n", changes);
  return EXIT_OK;
}
