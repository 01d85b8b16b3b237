// GrowthTracker: tells the balloon policy whether a guest is still growing, so that it is not
// ballooned while it fills memory (the balloon would take pages the guest is about to need,
// and DEFLATE_ON_OOM would hand them back 256 at a time: thrash).
//
// Once per policy round it compares the guest's figures with the previous round's: a guest
// grew if its use (from its statistics) rose by more than a slack, or if it took pages back
// from the balloon on its own (DEFLATE_ON_OOM: pages that left the balloon beyond what the
// target asked for). A growing guest, and a guest seen for the first time (no trend yet), is
// held: for that round and `hold_rounds` more it keeps at least what it holds now. A round
// without fresh statistics does not count down the hold. Virtual-time counters only.
//
//   GrowthTracker growth(/*hold_rounds=*/4, /*slack_pages=*/256);
//   const GrowthTracker::Verdict v = growth.observe(sample);   // once per round
//   if (v.held) floor = std::max(floor, ram - sample.actual_pages + v.grown_pages);
#pragma once

#include <cstdint>
#include <optional>

namespace densevm {

// One round's figures of one guest, in 4 KiB pages.
struct GuestSample {
  uint64_t stats_updates = 0;   // statistics buffers received so far (freshness)
  uint64_t used_pages = 0;      // RAM - free - ballooned, by the guest's statistics
  uint64_t actual_pages = 0;    // the balloon as the driver reports it
  uint64_t target_pages = 0;    // the target in force since the previous round
  uint64_t deflated_total = 0;  // pages that ever left the balloon
};

// A tracker's part of a checkpoint (core/persist.h): what it saw last and how long it holds.
struct GrowthTrackerState {
  std::optional<GuestSample> last;
  uint64_t hold = 0;
  uint64_t growth_rounds = 0;
};

class GrowthTracker {
 public:
  struct Verdict {
    bool held = false;         // keep at least the current allocation this round
    uint64_t grown_pages = 0;  // growth seen since the previous round (0 if none or unknown)
  };

  GrowthTracker(uint64_t hold_rounds, uint64_t slack_pages)
      : hold_rounds_(hold_rounds), slack_pages_(slack_pages) {}

  [[nodiscard]] Verdict observe(const GuestSample& now);
  // Rounds in which growth (or a first sample) was seen.
  [[nodiscard]] uint64_t growth_rounds() const { return growth_rounds_; }

  [[nodiscard]] GrowthTrackerState save() const { return {last_, hold_, growth_rounds_}; }
  void restore(const GrowthTrackerState& s) {
    last_ = s.last;
    hold_ = s.hold;
    growth_rounds_ = s.growth_rounds;
  }

 private:
  uint64_t hold_rounds_;
  uint64_t slack_pages_;
  std::optional<GuestSample> last_;
  uint64_t hold_ = 0;  // rounds still held after the last growth
  uint64_t growth_rounds_ = 0;
};

}  // namespace densevm
