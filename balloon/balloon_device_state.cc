// BalloonDevice::save / restore (core/persist.h).
#include "balloon/balloon_device.h"

#include <algorithm>

namespace densevm {

BalloonState BalloonDevice::save() const {
  BalloonState s;
  s.features = features_;
  // An empty balloon's bitmap is not read: its pages were never touched.
  s.ballooned.assign(ballooned_.size(), 0);
  if (!bitmap_empty_) {
    for (size_t i = 0; i < ballooned_.size(); ++i) s.ballooned[i] = ballooned_[i];
  }
  s.config = config_;
  s.held_stats = held_stats_;
  s.report_valid = report_.valid;
  s.report_free_bytes = report_.free_bytes;
  s.report_total_bytes = report_.total_bytes;
  s.report_available_bytes = report_.available_bytes;
  s.stats = stats_;
  return s;
}

void BalloonDevice::restore(const BalloonState& s) {
  if (s.ballooned.size() != ballooned_.size()) throw StateError("balloon record is for another memory size");
  features_ = s.features;
  // One copy (a rollback restores this record every round), none for an empty balloon.
  if (std::any_of(s.ballooned.begin(), s.ballooned.end(), [](uint64_t w) { return w != 0; })) {
    for (size_t i = 0; i < ballooned_.size(); ++i) ballooned_[i] = s.ballooned[i];
    bitmap_empty_ = false;
  } else {
    clear_bitmap();
  }
  config_ = s.config;
  held_stats_ = s.held_stats;
  report_.valid = s.report_valid;
  report_.free_bytes = s.report_free_bytes;
  report_.total_bytes = s.report_total_bytes;
  report_.available_bytes = s.report_available_bytes;
  report_.balloon_pages = config_u32(4);  // not in the record: `actual` as restored
  stats_ = s.stats;
}

}  // namespace densevm
