#include "balloon/growth_tracker.h"

namespace densevm {
namespace {

uint64_t rise(uint64_t from, uint64_t to) { return to > from ? to - from : 0; }

}  // namespace

GrowthTracker::Verdict GrowthTracker::observe(const GuestSample& now) {
  const std::optional<GuestSample> last = last_;
  last_ = now;
  if (!last) {  // no trend yet: wait for a second look before taking anything
    hold_ = hold_rounds_;
    ++growth_rounds_;
    return {.held = true, .grown_pages = 0};
  }
  // Deflates the target asked for (the balloon was above it) are the host's doing; any beyond
  // them the guest made on its own, out of memory.
  const uint64_t asked = rise(now.target_pages, last->actual_pages);
  const uint64_t deflated = rise(last->deflated_total, now.deflated_total);
  const uint64_t own_deflates = deflated > asked ? deflated - asked : 0;
  const bool fresh = now.stats_updates != last->stats_updates;
  const uint64_t used_growth = fresh ? rise(last->used_pages, now.used_pages) : 0;
  if (own_deflates > 0 || used_growth > slack_pages_) {
    hold_ = hold_rounds_;
    ++growth_rounds_;
    return {.held = true, .grown_pages = own_deflates > used_growth ? own_deflates : used_growth};
  }
  if (hold_ == 0) return {};
  if (fresh) --hold_;  // only a fresh look at a steady guest counts down
  return {.held = true, .grown_pages = 0};
}

}  // namespace densevm
