#include "cli/run_services.h"

namespace densevm::cli {
namespace {

// The scanner's own counters (not its census of the P2Ms, taken when stats() is called).
void add_counters(DedupStats& into, const DedupStats& from) {
  for (auto field : {&DedupStats::pages_scanned, &DedupStats::full_passes, &DedupStats::merges,
                     &DedupStats::volatile_pages, &DedupStats::verify_mismatches}) {
    into.*field += from.*field;
  }
  into.scan_seconds += from.scan_seconds;
}

}  // namespace

RunServices::RunServices(const RunOptions& options, FrameStore& frames)
    : options_(options), frames_(frames), scan_rate_(options.dedup_rate) {}

void RunServices::attach(std::span<Vm* const> vms) {
  vms_.assign(vms.begin(), vms.end());
  virtual_time_seen_ = 0;
  for (const Vm* vm : vms_) virtual_time_seen_ += vm->virtual_time();
  balloon_.reset();
  if (options_.balloon_target_bytes || options_.host_budget_bytes) {
    balloon_ = std::make_unique<BalloonPolicy>(
        BalloonPolicyConfig{.host_budget_pages = options_.host_budget_bytes >> kPageShift});
    std::optional<uint64_t> cap;
    if (options_.balloon_target_bytes) cap = *options_.balloon_target_bytes >> kPageShift;
    for (Vm* vm : vms_) balloon_->add(vm->memory(), vm->balloon(), cap);
    balloon_->step();
  }
  start_dedup();
}

void RunServices::go_on(std::span<Vm* const> vms) {
  vms_.assign(vms.begin(), vms.end());
  for (size_t i = 0; balloon_ && i < vms_.size(); ++i) balloon_->rebind(i, vms_[i]->memory(), vms_[i]->balloon());
  start_dedup();
}

void RunServices::start_dedup() {
  if (dedup_) add_counters(earlier_, dedup_->stats());
  dedup_.reset();
  if (!options_.dedup) return;
  dedup_ = std::make_unique<DedupScanner>(frames_, DedupConfig{.scope = options_.dedup_scope});
  for (Vm* vm : vms_) dedup_->add(vm->memory(), static_cast<uint32_t>(vm->id()) % options_.groups);
}

std::optional<BalloonPolicy::Saved> RunServices::save() const {
  if (!balloon_) return std::nullopt;
  return balloon_->save();
}

void RunServices::restore(const std::optional<BalloonPolicy::Saved>& saved) {
  if (balloon_ && saved) balloon_->restore(*saved);
}

void RunServices::step() {
  // Under a budget, a VM that stopped gives its RAM back and leaves the budget.
  for (size_t i = 0; i < vms_.size() && options_.host_budget_bytes != 0; ++i) {
    if (vms_[i]->state() != Vm::State::kRunning) balloon_->retire(i);
  }
  if (balloon_) balloon_->step();
  if (!dedup_) return;
  uint64_t now = 0;
  for (const Vm* vm : vms_) now += vm->virtual_time();
  dedup_->step(scan_rate_.earn(now - virtual_time_seen_));
  virtual_time_seen_ = now;
}

std::optional<DedupStats> RunServices::dedup_stats() const {
  if (!dedup_) return std::nullopt;
  DedupStats s = dedup_->stats();
  add_counters(s, earlier_);
  return s;
}

}  // namespace densevm::cli
