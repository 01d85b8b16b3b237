// Synthetic fingerprints for the planner's tests: page contents named by numbers, their hashes
// spread like XXH3's (splitmix64), pages at guest-physical 0 on.
//
//   Fingerprint a = synthetic_vm("a", {kZero, content(1), content(2), content(2)});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/fingerprint.h"

namespace densevm::planner::testing {

// The hash of page content number `id` (splitmix64 finalizer: uniform, and never the zero
// page's hash in practice).
inline uint64_t content(uint64_t id) {
  uint64_t z = id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline const uint64_t kZero = zero_page_hash();

inline Fingerprint synthetic_vm(std::string name, std::vector<uint64_t> hashes, uint32_t k = KmvSketch::kDefaultK) {
  const uint64_t pages = hashes.size();
  return fingerprint_of(std::move(name), ImageKind::kRaw, {{0, pages}}, std::move(hashes), k);
}

// `pages` pages: the first `zero` zero, then `shared` of contents base_shared.., then unique
// contents from base_unique on.
inline Fingerprint mixed_vm(std::string name, uint64_t zero, uint64_t shared, uint64_t unique, uint64_t base_shared,
                            uint64_t base_unique, uint32_t k = KmvSketch::kDefaultK) {
  std::vector<uint64_t> h;
  for (uint64_t i = 0; i < zero; ++i) h.push_back(kZero);
  for (uint64_t i = 0; i < shared; ++i) h.push_back(content(base_shared + i));
  for (uint64_t i = 0; i < unique; ++i) h.push_back(content(base_unique + i));
  return synthetic_vm(std::move(name), std::move(h), k);
}

}  // namespace densevm::planner::testing
