// HostServices: the host services of a set of VMs, wired to them and stepped between epochs
// while no VM runs — balloon targets (a static target, a host budget) and page sharing. The
// services know nothing of each other nor of who configured them; this is where they meet
// the VMs. A checkpoint that freezes its VMs into templates hands the services over to the
// VMs going on from them (go_on) or to clones (attach): a frozen VM must not change any more.
// A rollback loop takes the services' state with the VMs' and puts both back every round.
//
//   HostServices services(config, frames);   // declared after the VMs: it goes first
//   services.attach(vms);
//   loop.run(vms, [&] { services.step(); });
//   const HostServices::State s = services.save();   ...   services.restore(s);
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "balloon/balloon_policy.h"
#include "core/frame_store.h"
#include "dedup/dedup_scanner.h"
#include "dedup/dedup_scope.h"
#include "dedup/scan_rate.h"
#include "vmm/vm.h"

namespace densevm {

struct HostServicesConfig {
  std::optional<uint64_t> balloon_target_pages;  // each VM's guest memory size: its cap
  uint64_t host_budget_pages = 0;                // 0: no budget
  std::vector<uint64_t> node_budget_pages{};     // per NUMA node index (VmConfig::numa_home); 0: none
  bool dedup = false;
  uint64_t dedup_rate = ScanRate::kDefaultPagesPerSecond;  // pages per VM per virtual second
  DedupScope dedup_scope = DedupScope::kHost;
  unsigned groups = 1;  // VM K shares in group K mod groups
  // --dedup-numa local: frames are shared only among VMs of one home node (with scope host or
  // group; a VM without a home shares with those without)
  bool dedup_numa_local = false;
};

class HostServices {
 public:
  // Every service's part of a checkpoint (core/persist.h), and how much virtual time the
  // scanner has been paid for.
  struct State {
    std::optional<BalloonPolicyState> balloon;
    std::optional<DedupScanner::State> dedup;
    uint64_t scan_rate_carry = 0;
    unsigned scan_backoff = 0;
    uint64_t virtual_time_seen = 0;
  };

  HostServices(const HostServicesConfig& config, FrameStore& frames);

  // Serves `vms` from now on (they must outlive the services' use of them), with a fresh
  // policy and scanner; VMs served before are left alone. Sets the first balloon targets.
  void attach(std::span<Vm* const> vms);
  // The VMs served go on as new objects, restored from templates of themselves: the balloon
  // policy goes on with what it knew, as if nothing happened (the guest can tell: statistics
  // requests, targets); the scanner starts over on their memory, its counters going on.
  void go_on(std::span<Vm* const> vms);
  // Between epochs: VMs that stopped leave a host budget, the policy sets targets, the
  // scanner merges what the virtual time the VMs ran earned it.
  void step();

  // Between epochs, with the VMs (whose memory holds part of the services' state).
  [[nodiscard]] State save() const;
  void restore(const State& s);

  // The scanner's statistics, counters summed over every attach; nullopt without dedup.
  [[nodiscard]] std::optional<DedupStats> dedup_stats() const;

 private:
  void start_dedup();
  [[nodiscard]] uint64_t virtual_time() const;

  HostServicesConfig config_;
  bool budgeted_;  // a host or node budget: the balloon policy samples, and retires stopped VMs
  FrameStore& frames_;
  std::vector<Vm*> vms_;
  std::unique_ptr<BalloonPolicy> balloon_;
  std::unique_ptr<DedupScanner> dedup_;
  DedupStats earlier_;  // counters of the scanners before the last attach
  ScanRate scan_rate_;
  uint64_t virtual_time_seen_ = 0;  // summed over the VMs: each VM's time earns scan budget
  unsigned scan_backoff_ = 0;       // full passes in a row that merged nothing (ScanRate::cap)
};

}  // namespace densevm
