#include "balloon/balloon_policy.h"

#include <algorithm>

namespace densevm {
namespace {

// Headroom above what the guest uses: its driver keeps max(4 MiB, RAM/64) free anyway, and
// the guest needs some room to grow before DEFLATE_ON_OOM has to step in.
uint64_t headroom_pages(uint64_t ram_pages) { return std::max<uint64_t>(4096, ram_pages / 32); }

// ESX's cost of holding `alloc` pages of which `active` are in use, scaled by (100 - tax):
// active pages cost 1, idle pages 1 / (1 - tax).
uint64_t cost(const BalloonPolicyConfig& c, uint64_t alloc, uint64_t active) {
  const uint64_t a = std::min(active, alloc);
  return a * (100 - c.tax_percent) + (alloc - a) * 100;
}

// Takes from the VMs `in` selects, costliest first, until their allocations sum to at most
// `budget` or every one of them is at its floor.
template <typename In>
void squeeze(const BalloonPolicyConfig& config, const std::vector<BalloonVmView>& vms, std::vector<uint64_t>& alloc,
             uint64_t budget, In in) {
  uint64_t total = 0;
  for (size_t i = 0; i < vms.size(); ++i) total += in(i) ? alloc[i] : 0;
  const uint64_t step = std::max<uint64_t>(config.step_pages, 1);
  while (total > budget) {
    // The costliest allocation that can still give; ties go to the lower index.
    size_t pick = vms.size();
    uint64_t worst = 0;
    for (size_t i = 0; i < vms.size(); ++i) {
      if (!in(i)) continue;
      const uint64_t floor = std::min(alloc[i], vms[i].floor_pages);
      if (alloc[i] <= floor) continue;
      const uint64_t c = cost(config, alloc[i], vms[i].active_pages);
      if (pick == vms.size() || c > worst) {
        pick = i;
        worst = c;
      }
    }
    if (pick == vms.size()) break;  // every VM is at its floor: the budget cannot be met
    const uint64_t floor = std::min(alloc[pick], vms[pick].floor_pages);
    const uint64_t take = std::min({step, alloc[pick] - floor, total - budget});
    alloc[pick] -= take;
    total -= take;
  }
}

}  // namespace

bool BalloonPolicyConfig::budgeted() const {
  return host_budget_pages != 0 ||
         std::any_of(node_budget_pages.begin(), node_budget_pages.end(), [](uint64_t b) { return b != 0; });
}

std::vector<uint64_t> allocate_memory(const BalloonPolicyConfig& config,
                                      const std::vector<BalloonVmView>& vms) {
  std::vector<uint64_t> alloc;
  for (const BalloonVmView& v : vms) alloc.push_back(std::min(v.cap_pages, v.ram_pages));
  for (uint32_t node = 0; node < config.node_budget_pages.size(); ++node) {
    if (config.node_budget_pages[node] == 0) continue;
    squeeze(config, vms, alloc, config.node_budget_pages[node], [&](size_t i) { return vms[i].node == node; });
  }
  if (config.host_budget_pages != 0) {
    squeeze(config, vms, alloc, config.host_budget_pages, [](size_t) { return true; });
  }
  return alloc;
}

void BalloonPolicy::add(GuestMemory& memory, BalloonDevice& device, std::optional<uint64_t> cap_pages,
                        std::optional<uint32_t> node) {
  const uint64_t ram = memory.ram_bytes() >> kPageShift;
  vms_.push_back({&memory, &device, std::min(cap_pages.value_or(ram), ram), node,
                  IdleSampler(vms_.size() + 1),
                  GrowthTracker(config_.growth_hold_rounds, config_.step_pages)});
}

void BalloonPolicy::rebind(size_t vm, GuestMemory& memory, BalloonDevice& device) {
  Entry& e = vms_.at(vm);
  e.memory = &memory;
  e.device = &device;
}

BalloonPolicyState BalloonPolicy::save() const {
  BalloonPolicyState s;
  for (const Entry& e : vms_) s.vms.push_back({e.sampler.save(*e.memory), e.growth.save(), e.retired});
  s.epochs = epochs_;
  s.rounds = rounds_;
  s.growth_holds = growth_holds_;
  s.released_pages = released_pages_;
  return s;
}

void BalloonPolicy::restore(const BalloonPolicyState& s) {
  if (s.vms.size() != vms_.size()) throw StateError("balloon policy state is for another number of VMs");
  for (size_t i = 0; i < vms_.size(); ++i) {
    vms_[i].sampler.restore(s.vms[i].sampler, *vms_[i].memory);
    vms_[i].growth.restore(s.vms[i].growth);
    vms_[i].retired = s.vms[i].retired;
  }
  epochs_ = s.epochs;
  rounds_ = s.rounds;
  growth_holds_ = s.growth_holds;
  released_pages_ = s.released_pages;
}

BalloonVmView BalloonPolicy::view(Entry& e) {
  BalloonVmView v;
  v.ram_pages = e.memory->ram_bytes() >> kPageShift;
  v.cap_pages = e.cap_pages;
  v.node = e.node;
  v.active_pages = e.sampler.active_pages();
  const GuestMemoryReport& r = e.device->guest_report();
  if (!r.valid) {
    v.floor_pages = v.ram_pages;  // nothing known about the guest yet: leave it be
    return v;
  }
  const BalloonStats s = e.device->stats();
  const uint64_t free = std::min(r.free_bytes >> kPageShift, v.ram_pages);
  const uint64_t ballooned = std::min(r.balloon_pages, v.ram_pages - free);
  const uint64_t used = v.ram_pages - free - ballooned;
  const uint64_t headroom = headroom_pages(v.ram_pages);
  v.floor_pages = std::max({used + headroom, v.active_pages, config_.min_guest_pages});
  const GrowthTracker::Verdict growth = e.growth.observe({.stats_updates = s.stats_updates,
                                                          .used_pages = used,
                                                          .actual_pages = s.actual_pages,
                                                          .target_pages = s.target_pages,
                                                          .deflated_total = s.deflated_total});
  if (growth.held) {
    // Nothing is taken from a growing guest, and it gets room for as much growth again.
    ++growth_holds_;
    const uint64_t holds_now = v.ram_pages - std::min(s.actual_pages, v.ram_pages);
    v.floor_pages = std::max({v.floor_pages, holds_now, used + growth.grown_pages + headroom});
  }
  return v;
}

void BalloonPolicy::step() {
  if (epochs_++ % kPeriodEpochs != 0) return;
  ++rounds_;
  std::vector<Entry*> live;
  std::vector<BalloonVmView> views;
  for (Entry& e : vms_) {
    if (e.retired) continue;
    if (config_.budgeted()) e.sampler.step(*e.memory);
    views.push_back(view(e));
    live.push_back(&e);
    e.device->request_stats();  // fresh figures for the next round
  }
  const std::vector<uint64_t> alloc = allocate_memory(config_, views);
  for (size_t i = 0; i < live.size(); ++i) {
    live[i]->device->set_target_pages(views[i].ram_pages - alloc[i]);
  }
}

void BalloonPolicy::retire(size_t vm) {
  Entry& e = vms_.at(vm);
  if (e.retired) return;
  e.retired = true;
  released_pages_ += e.memory->drop_all();
  e.memory->frames().flush_released();
}

}  // namespace densevm
