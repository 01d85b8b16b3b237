#include "balloon/idle_sampler.h"

#include <algorithm>

namespace densevm {

uint64_t IdleSampler::next_random() {
  // xorshift64*: deterministic per seed.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  return state_ * 0x2545f4914f6cdd1dull;
}

Gpa IdleSampler::page_at(const GuestMemory& memory, uint64_t index) {
  for (const GuestMemory::Range& r : memory.ram_ranges()) {
    const uint64_t pages = r.size >> kPageShift;
    if (index < pages) return r.begin + (index << kPageShift);
    index -= pages;
  }
  return memory.ram_ranges().front().begin;
}

IdleSamplerState IdleSampler::save(const GuestMemory& memory) const {
  IdleSamplerState s{state_, sample_, {}, slow_average_, active_};
  for (const Gpa page : sample_) {
    const std::optional<P2mLeaf> leaf = memory.mapping(page);
    s.sample_accessed.push_back(leaf && leaf->accessed);
  }
  return s;
}

void IdleSampler::restore(const IdleSamplerState& s, GuestMemory& memory) {
  state_ = s.random;
  sample_ = s.sample;
  slow_average_ = s.slow_average;
  active_ = s.active;
  for (size_t i = 0; i < sample_.size(); ++i) memory.set_accessed(sample_[i], s.sample_accessed[i]);
}

void IdleSampler::step(GuestMemory& memory) {
  const uint64_t ram_pages = memory.ram_bytes() >> kPageShift;
  if (!sample_.empty()) {
    uint64_t hits = 0;
    for (Gpa page : sample_) hits += memory.test_and_clear_accessed(page) ? 1 : 0;
    const uint64_t estimate = ram_pages * hits / sample_.size();
    slow_average_ = (slow_average_ * 3 + estimate) / 4;
    active_ = std::max(estimate, slow_average_);
  }
  sample_.clear();
  for (unsigned i = 0; i < kSamples && ram_pages > 0; ++i) {
    const Gpa page = page_at(memory, next_random() % ram_pages);
    (void)memory.test_and_clear_accessed(page);  // arm: only new accesses count
    sample_.push_back(page);
  }
}

}  // namespace densevm
