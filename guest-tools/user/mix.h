/* Cheap deterministic mixing for workload data (splitmix64's finalizer and xorshift64).
 *
 *   uint64_t x = mix64(seed ^ index);     // a well-spread 64-bit value per (seed, index)
 *   x = xorshift64(x);                    // next pseudo-random value, x != 0
 */
#pragma once

#include <stdint.h>

static inline uint64_t mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

static inline uint64_t xorshift64(uint64_t x) {
  x ^= x << 13;
  x ^= x >> 7;
  return x ^ (x << 17);
}
