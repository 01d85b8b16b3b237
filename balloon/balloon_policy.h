// BalloonPolicy: the host's balloon targets, from host pressure and guest statistics, with
// an idle memory tax in the spirit of ESX (Waldspurger, OSDI 2002, §5).
//
// Each VM gets an allocation: the guest memory size its balloon should leave it
// (num_pages = (RAM - allocation) / 4 KiB). Without a host budget the allocation is the VM's
// static cap (--balloon-target) or all its RAM. With a budget, allocations start at the caps
// and, while their sum exceeds the budget, 1 MiB at a time is taken from the VM whose
// allocation costs most: cost = active + k * idle pages, k = 1 / (1 - tax rate), so idle
// memory is taxed (75%: an idle page costs 4 active ones). No VM goes below its floor: what
// its guest uses (RAM - free - ballooned, from the stats queue) plus headroom, its sampled
// active memory, and a minimum. A VM without statistics yet keeps its allocation, and so does
// a growing one (GrowthTracker: its use rose, or it deflated on its own, out of memory) for
// that round and a few more, plus the growth it just showed: ballooning a guest that is
// filling memory only makes it deflate again, 256 pages at a time. A VM that stopped is
// retired: its RAM goes back to the host and it leaves the budget. On a NUMA host a budget may
// also be set per node (an index; the VMs whose home it is share it): those are met first,
// each by taking from its own node's VMs only, so one full node is relieved by its own
// guests and the others are left alone; then the total budget, from any VM. The policy runs
// from the scheduler's between-epochs hook on virtual-time counters only, so a run is
// deterministic.
//
//   BalloonPolicy policy({.host_budget_pages = budget >> 12, .node_budget_pages = {0, 256 << 8}});
//   policy.add(vm.memory(), vm.balloon(), std::nullopt, /*node=*/1);
//   policy.step();                  // every epoch; a round every kPeriodEpochs
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "balloon/balloon_device.h"
#include "balloon/growth_tracker.h"
#include "balloon/idle_sampler.h"
#include "mmu/guest_memory.h"

namespace densevm {

struct BalloonPolicyConfig {
  uint64_t host_budget_pages = 0;   // 0: no budget, caps only
  std::vector<uint64_t> node_budget_pages{};  // per NUMA node index: the VMs homed there; 0: none
  unsigned tax_percent = 75;        // ESX's default idle memory tax
  uint64_t min_guest_pages = 8192;  // 32 MiB: never balloon a guest below this
  uint64_t step_pages = 256;        // reclaim granularity (1 MiB); also the growth slack
  uint64_t growth_hold_rounds = 4;  // a growing guest keeps its allocation this many rounds more

  // Any budget at all: the policy samples active memory and retires stopped VMs.
  [[nodiscard]] bool budgeted() const;
};

// One VM as the allocator sees it.
struct BalloonVmView {
  uint64_t ram_pages = 0;
  uint64_t cap_pages = 0;       // static target, or ram_pages
  uint64_t floor_pages = 0;     // never allocate less
  uint64_t active_pages = 0;    // sampled
  std::optional<uint32_t> node{};  // home NUMA node index, for node_budget_pages
};

// The allocation (guest memory size in pages) of each VM; pure, for tests.
[[nodiscard]] std::vector<uint64_t> allocate_memory(const BalloonPolicyConfig& config,
                                                    const std::vector<BalloonVmView>& vms);

// The policy's part of a checkpoint (core/persist.h): a checkpoint of the VMs takes it, each
// rollback puts it back, so every round sees the same policy (the same rounds, the same
// statistics requests at the same epochs, the same samples armed in guest memory).
struct BalloonPolicyState {
  struct Vm {
    IdleSamplerState sampler;
    GrowthTrackerState growth;
    bool retired = false;
  };
  std::vector<Vm> vms;
  uint64_t epochs = 0, rounds = 0, growth_holds = 0, released_pages = 0;
};

class BalloonPolicy {
 public:
  static constexpr uint64_t kPeriodEpochs = 8;

  explicit BalloonPolicy(const BalloonPolicyConfig& config) : config_(config) {}

  // cap_pages: the VM's --balloon-target in pages, if any; node: its home node's index.
  void add(GuestMemory& memory, BalloonDevice& device, std::optional<uint64_t> cap_pages,
           std::optional<uint32_t> node = std::nullopt);
  // From between_epochs; a policy round every kPeriodEpochs calls (the first call included).
  void step();
  // VM `vm` (in add order) stopped: its RAM goes back to the host (every frame unmapped) and
  // it no longer counts against the budget nor gets targets. Again for the same VM: nothing.
  void retire(size_t vm);

  // The same VM goes on as a new object (restored from a template of itself at a
  // checkpoint): the policy serves it with everything it learnt about the old one.
  void rebind(size_t vm, GuestMemory& memory, BalloonDevice& device);

  // Between slices, with the VMs' memory as it is then (the samplers' bits are in it). A
  // state for other VMs (another count) throws StateError.
  [[nodiscard]] BalloonPolicyState save() const;
  void restore(const BalloonPolicyState& s);

  [[nodiscard]] uint64_t rounds() const { return rounds_; }
  // VM-rounds in which a guest was held at its allocation because it was growing.
  [[nodiscard]] uint64_t growth_holds() const { return growth_holds_; }
  // Pages whose frames retire() gave back.
  [[nodiscard]] uint64_t released_pages() const { return released_pages_; }
  [[nodiscard]] uint64_t active_pages(size_t vm) const { return vms_[vm].sampler.active_pages(); }

 private:
  struct Entry {
    GuestMemory* memory;
    BalloonDevice* device;
    uint64_t cap_pages;
    std::optional<uint32_t> node;
    IdleSampler sampler;
    GrowthTracker growth;
    bool retired = false;
  };

  // The allocator's view of one VM this round (observes its growth: call once a round).
  [[nodiscard]] BalloonVmView view(Entry& e);

  BalloonPolicyConfig config_;
  std::vector<Entry> vms_;
  uint64_t epochs_ = 0;
  uint64_t rounds_ = 0;
  uint64_t growth_holds_ = 0;
  uint64_t released_pages_ = 0;
};

}  // namespace densevm
