/* compute: CPU work with little memory traffic, to measure guest code speed rather than the
 * MMU: an FNV-1a hash over a buffer of `size` bytes, `rounds` times (the buffer filled from
 * seed=, default 7), then a heapsort of the buffer's qwords, checked to be in order. Every
 * VM with the same arguments prints the same line. */
#include "mix.h"
#include "ulib.h"
#include "workloads.h"

static void sift_down(uint64_t *a, uint64_t root, uint64_t n) {
  for (;;) {
    uint64_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && a[child + 1] > a[child]) child++;
    if (a[root] >= a[child]) return;
    uint64_t t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

static void heapsort(uint64_t *a, uint64_t n) {
  for (uint64_t i = n / 2; i-- > 0;) sift_down(a, i, n);
  for (uint64_t end = n; end-- > 1;) {
    uint64_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end);
  }
}

int compute_main(const char *cmdline) {
  uint64_t size = arg_u64(cmdline, "size", 1ull << 20);
  uint64_t rounds = arg_u64(cmdline, "rounds", 4);
  uint64_t x = mix64(arg_u64(cmdline, "seed", 7)) | 1;
  uint64_t n = size / 8;
  if (n == 0 || size >> 36) {
    uprintf("compute: size must be between 8 bytes and 64 GiB\n");
    return EXIT_BAD_ARGS;
  }
  long base = sys_map(0, n * 8);
  if (base < 0) {
    uprintf("compute: cannot map %lu bytes\n", n * 8);
    return EXIT_WORKLOAD_FAILED;
  }
  uint64_t *a = (uint64_t *)base;
  for (uint64_t i = 0; i < n; i++) a[i] = x = xorshift64(x);
  const uint8_t *bytes = (const uint8_t *)base;
  uint64_t hash = 0xcbf29ce484222325ull;
  for (uint64_t r = 0; r < rounds; r++) {
    for (uint64_t i = 0; i < n * 8; i++) hash = (hash ^ bytes[i]) * 0x100000001b3ull;
  }
  heapsort(a, n);
  uint64_t sorted = 0;
  for (uint64_t i = 0; i < n; i++) {
    if (i > 0 && a[i - 1] > a[i]) {
      uprintf("compute: not sorted at %lu\n", i);
      return EXIT_WORKLOAD_FAILED;
    }
    sorted = (sorted ^ a[i]) * 0x100000001b3ull;
  }
  uprintf("compute ok %016lx sorted %016lx n=%lu\n", hash, sorted, n);
  return EXIT_OK;
}
