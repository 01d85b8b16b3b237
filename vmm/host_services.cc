#include "vmm/host_services.h"

#include <algorithm>

namespace densevm {

// The services a rollback puts back, each the same way (core/persist.h); the idle sampler's
// save and restore also take the guest memory its armed bits are in.
static_assert(Persistent<HostServices> && Persistent<BalloonPolicy> && Persistent<GrowthTracker> &&
              Persistent<DedupScanner> && Persistent<DedupFrames> && Persistent<PageChecksums> && Persistent<ScanRate>);

HostServices::HostServices(const HostServicesConfig& config, FrameStore& frames)
    : config_(config),
      budgeted_(BalloonPolicyConfig{.host_budget_pages = config.host_budget_pages,
                                    .node_budget_pages = config.node_budget_pages}
                    .budgeted()),
      frames_(frames),
      scan_rate_(config.dedup_rate) {}

uint64_t HostServices::virtual_time() const {
  uint64_t sum = 0;
  for (const Vm* vm : vms_) sum += vm->virtual_time();
  return sum;
}

void HostServices::attach(std::span<Vm* const> vms) {
  vms_.assign(vms.begin(), vms.end());
  virtual_time_seen_ = virtual_time();
  scan_backoff_ = 0;
  balloon_.reset();
  if (config_.balloon_target_pages || budgeted_) {
    balloon_ = std::make_unique<BalloonPolicy>(BalloonPolicyConfig{
        .host_budget_pages = config_.host_budget_pages, .node_budget_pages = config_.node_budget_pages});
    for (Vm* vm : vms_) {
      balloon_->add(vm->memory(), vm->balloon(), config_.balloon_target_pages, vm->config().numa_home);
    }
    balloon_->step();
  }
  start_dedup();
}

void HostServices::go_on(std::span<Vm* const> vms) {
  vms_.assign(vms.begin(), vms.end());
  for (size_t i = 0; balloon_ && i < vms_.size(); ++i) balloon_->rebind(i, vms_[i]->memory(), vms_[i]->balloon());
  start_dedup();
}

void HostServices::start_dedup() {
  if (dedup_) earlier_.add_work(dedup_->stats());
  dedup_.reset();
  if (!config_.dedup) return;
  // Local NUMA sharing makes the home node part of the group: group g on node n is
  // g * kNodeSpan + n + 1 (no home: + 0), and a host-wide scope becomes a group scope.
  constexpr uint32_t kNodeSpan = 1025;
  const bool by_node = config_.dedup_numa_local && config_.dedup_scope != DedupScope::kVm;
  const DedupScope scope = by_node ? DedupScope::kGroup : config_.dedup_scope;
  dedup_ = std::make_unique<DedupScanner>(frames_, DedupConfig{.scope = scope});
  for (Vm* vm : vms_) {
    uint32_t group = config_.dedup_scope == DedupScope::kGroup ? static_cast<uint32_t>(vm->id()) % config_.groups : 0;
    if (by_node) group = group * kNodeSpan + (vm->config().numa_home ? *vm->config().numa_home + 1 : 0);
    dedup_->add(vm->memory(), by_node ? group : static_cast<uint32_t>(vm->id()) % config_.groups);
  }
}

HostServices::State HostServices::save() const {
  State s;
  if (balloon_) s.balloon = balloon_->save();
  if (dedup_) s.dedup = dedup_->save();
  s.scan_rate_carry = scan_rate_.save();
  s.scan_backoff = scan_backoff_;
  s.virtual_time_seen = virtual_time_seen_;
  return s;
}

void HostServices::restore(const State& s) {
  if ((balloon_ != nullptr) != s.balloon.has_value() || (dedup_ != nullptr) != s.dedup.has_value()) {
    throw StateError("host services state is for other services");
  }
  if (balloon_) balloon_->restore(*s.balloon);
  if (dedup_) dedup_->restore(*s.dedup);
  scan_rate_.restore(s.scan_rate_carry);
  scan_backoff_ = s.scan_backoff;
  virtual_time_seen_ = s.virtual_time_seen;
}

void HostServices::step() {
  // Under a budget, a VM that stopped gives its RAM back and leaves the budget.
  for (size_t i = 0; i < vms_.size() && budgeted_; ++i) {
    if (vms_[i]->state() != Vm::State::kRunning) balloon_->retire(i);
  }
  if (balloon_) balloon_->step();
  if (!dedup_) return;
  const uint64_t now = virtual_time();
  uint64_t budget = scan_rate_.earn(now - virtual_time_seen_);
  if (!scan_rate_.unlimited()) {
    uint64_t mapped = 0;
    for (Vm* vm : vms_) mapped += vm->memory().resident_pages();
    budget = std::min(budget, ScanRate::cap(now - virtual_time_seen_, mapped, vms_.size(), scan_backoff_));
  }
  const uint64_t passes = dedup_->full_passes(), merges = dedup_->merges();
  dedup_->step(budget);
  // A pass that merged nothing stretches the wait for the next (deterministic: it depends
  // only on what the scanner found); any merge brings the scan back to its full pace.
  if (dedup_->full_passes() != passes) {
    scan_backoff_ = dedup_->merges() != merges ? 0 : std::min(scan_backoff_ + 1, ScanRate::kMaxBackoff);
  }
  virtual_time_seen_ = now;
}

std::optional<DedupStats> HostServices::dedup_stats() const {
  if (!dedup_) return std::nullopt;
  DedupStats s = dedup_->stats();
  s.add_work(earlier_);
  return s;
}

}  // namespace densevm
