// Test helpers for dedup/: guest pages written by the host with known content, and the
// guest's side of a write (an EPT violation answered as NestedMmu answers it).
//
//   fill(mem, Gpa{0x10000}, /*seed=*/1);
//   guest_write(mem, Gpa{0x10000}, 2);   // breaks copy-on-write if the page is merged
//   EXPECT_TRUE(holds(mem, Gpa{0x10000}, 2));
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <variant>

#include "dedup/dedup_scanner.h"
#include "dedup/scan_rate.h"
#include "mmu/guest_memory.h"

namespace densevm::dedup_testing {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kMax = ScanRate::kUnlimitedBudget;  // one whole pass per step

inline std::array<uint8_t, kPageSize> pattern(uint64_t seed) {
  std::array<uint8_t, kPageSize> page{};
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < page.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(&page[i], &x, 8);
  }
  return page;
}

inline void fill(GuestMemory& mem, Gpa gpa, uint64_t seed) {
  const auto page = pattern(seed);
  ASSERT_TRUE(mem.write(gpa, page.data(), page.size()));
}

inline void fill_zero(GuestMemory& mem, Gpa gpa) {
  const std::array<uint8_t, kPageSize> zeros{};
  ASSERT_TRUE(mem.write(gpa, zeros.data(), zeros.size()));
}

inline bool holds(GuestMemory& mem, Gpa gpa, uint64_t seed) {
  std::array<uint8_t, kPageSize> got{};
  return mem.read(gpa, got.data(), got.size()) && got == pattern(seed);
}

inline Hpa frame_of(GuestMemory& mem, Gpa gpa) { return mem.mapping(gpa)->hpa; }
inline EptPerms perms_of(GuestMemory& mem, Gpa gpa) { return mem.mapping(gpa)->perms; }

// The guest-side path: a write that the EPT refuses, answered as NestedMmu does.
inline void guest_write(GuestMemory& mem, Gpa gpa, uint64_t seed) {
  const EptLookup r = mem.lookup(gpa, Access::kWrite);
  if (const auto* v = std::get_if<EptViolation>(&r)) {
    const GuestMemory::Populate done = v->mapped ? mem.break_cow(gpa) : mem.populate(gpa);
    ASSERT_EQ(done, GuestMemory::Populate::kMapped);
    ASSERT_TRUE(std::holds_alternative<EptHit>(mem.lookup(gpa, Access::kWrite))) << "the MMU retries";
  }
  const auto page = pattern(seed);
  std::memcpy(mem.frames().host_ptr(frame_of(mem, gpa)), page.data(), page.size());
}

inline void expect_counters_add_up(const DedupStats& s) {
  EXPECT_EQ(s.merges - s.cow_breaks, s.sharing_pages + s.zero_pages);
}

}  // namespace densevm::dedup_testing
