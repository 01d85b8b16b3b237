// ScanRate: how many pages the dedup scanner may visit, earned by virtual time.
//
// Virtual time, not host time, so a run scans the same pages whatever the host's speed:
// one virtual second is 10^9 retired instructions of a VM (a nominal 1 GHz vCPU), halted
// time included. Every VM's virtual time earns pages, so the scan keeps pace as VMs are
// added; the fraction of a page not yet earned carries over to the next epoch.
//
// The host's work is bounded too: whatever the rate, the scan goes over the mapped pages at
// most once per kMinPassInstructions of each VM's virtual time (cap()). A halted VM's time
// runs fast and costs the host little else, so without it small and idle VMs would be
// scanned over and over, a full pass every epoch. It binds only for VMs mapping fewer than
// rate x 20 ms pages (8 MiB at the default rate). The caller may stretch that interval by
// 2^backoff (up to kMaxBackoff) while passes find nothing to merge: an idle fleet, once
// merged, is then walked every 320 virtual ms instead of every 20.
//
//   ScanRate rate(100'000);                 // pages per VM per virtual second
//   uint64_t budget = rate.earn(8'000'000);  // 800 pages
//   budget = std::min(budget, ScanRate::cap(8'000'000, mapped_pages, vms));
//   scanner.step(budget);
#pragma once

#include <cstdint>
#include <limits>

namespace densevm {

class ScanRate {
 public:
  static constexpr uint64_t kVirtualHz = 1'000'000'000;  // retired instructions per second
  static constexpr uint64_t kUnlimited = 0;              // `max`: no budget, a pass per step
  static constexpr uint64_t kDefaultPagesPerSecond = 100'000;
  static constexpr uint64_t kUnlimitedBudget = std::numeric_limits<uint64_t>::max();
  static constexpr uint64_t kMinPassInstructions = 20'000'000;  // 20 virtual ms a pass, at least
  static constexpr unsigned kMaxBackoff = 4;                     // up to 16 x that while nothing merges

  explicit ScanRate(uint64_t pages_per_second) : pages_per_second_(pages_per_second) {}

  // Pages earned by `virtual_instructions` more virtual time (summed over the VMs).
  [[nodiscard]] uint64_t earn(uint64_t virtual_instructions);
  // The most pages worth visiting in `virtual_instructions` (summed over `vms` VMs that map
  // `mapped_pages` between them): mapped_pages x the VMs' mean time / (kMinPassInstructions x
  // 2^backoff), rounded up (no state: a pass may come a page early). Not applied with `max`,
  // which asks for a pass every epoch. backoff is at most kMaxBackoff.
  [[nodiscard]] static uint64_t cap(uint64_t virtual_instructions, uint64_t mapped_pages, uint64_t vms,
                                    unsigned backoff = 0);

  // The fraction carried over is its state (core/persist.h).
  [[nodiscard]] uint64_t save() const { return carry_; }
  void restore(uint64_t carry) { carry_ = carry; }
  [[nodiscard]] bool unlimited() const { return pages_per_second_ == kUnlimited; }

 private:
  uint64_t pages_per_second_;
  uint64_t carry_ = 0;  // rate x instructions not yet worth a whole page: below kVirtualHz
};

}  // namespace densevm
