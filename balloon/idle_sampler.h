// IdleSampler: estimates how much of a VM's RAM is actively used, by statistical sampling of
// EPT accessed bits, as ESX does for its idle memory tax (Waldspurger, OSDI 2002, §5.2).
//
// Each period a fixed number of guest pages, drawn by a seeded PRNG, have their A bit
// cleared (the P2M announces it, so cached translations go and the next access walks and sets
// A again); at the end of the period the share found accessed, times RAM, is the estimate.
// The figure kept is the larger of that and a slow moving average, so a burst counts at once
// and idleness only slowly. Deterministic: no host time, only the guest's own accesses.
//
//   IdleSampler sampler(/*seed=*/vm_id);
//   sampler.step(memory);                          // once per policy period
//   uint64_t active = sampler.active_pages();
#pragma once

#include <cstdint>
#include <vector>

#include "mmu/guest_memory.h"

namespace densevm {

// A sampler's part of a checkpoint (core/persist.h): its random generator, the sample it
// armed and what it found so far — and, since arming clears the sample's accessed bits in
// guest memory, those bits as they were then (a rollback puts them back).
struct IdleSamplerState {
  uint64_t random = 0;
  std::vector<Gpa> sample;
  std::vector<bool> sample_accessed;
  uint64_t slow_average = 0;
  uint64_t active = 0;
};

class IdleSampler {
 public:
  static constexpr unsigned kSamples = 100;  // ESX's default per period

  explicit IdleSampler(uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}

  // Counts the previous sample's accessed pages, then draws and arms a new sample.
  void step(GuestMemory& memory);
  [[nodiscard]] uint64_t active_pages() const { return active_; }

  // Reads the sample's accessed bits from `memory`; restore sets them back there.
  [[nodiscard]] IdleSamplerState save(const GuestMemory& memory) const;
  void restore(const IdleSamplerState& s, GuestMemory& memory);

 private:
  [[nodiscard]] uint64_t next_random();
  [[nodiscard]] static Gpa page_at(const GuestMemory& memory, uint64_t index);

  uint64_t state_;
  std::vector<Gpa> sample_;
  uint64_t slow_average_ = 0;
  uint64_t active_ = 0;
};

}  // namespace densevm
