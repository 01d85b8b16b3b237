// BalloonDevice::save / restore (see vmm/snapshot_state.h).
#include "balloon/balloon_device.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

namespace densevm {

void BalloonDevice::save(StateWriter& w) const {
  w.u64(features_);
  w.u64(ballooned_.size());
  for (uint64_t word : ballooned_) w.u64(word);
  w.blob(config_);
  w.boolean(held_stats_.has_value());
  w.u16(held_stats_.value_or(0));
  w.boolean(report_.valid);
  for (uint64_t v : {report_.free_bytes, report_.total_bytes, report_.available_bytes}) w.u64(v);
  const BalloonStats& s = stats_;
  for (uint64_t v : {s.target_pages, s.actual_pages, s.ballooned_pages, s.inflated_total,
                     s.deflated_total, s.reported_free_pages, s.discarded_pages, s.rejected_pfns,
                     s.duplicate_inflates, s.stray_deflates, s.stats_updates}) {
    w.u64(v);
  }
}

void BalloonDevice::restore(StateReader& r) {
  features_ = r.u64();
  if (r.u64() != ballooned_.size()) throw StateError("balloon record is for another memory size");
  // One copy, not a read per word: a rollback restores this record every round.
  static_assert(std::endian::native == std::endian::little, "the record is little-endian");
  const std::span<const uint8_t> bits = r.take(ballooned_.size() * sizeof(uint64_t));
  std::memcpy(ballooned_.data(), bits.data(), bits.size());
  const std::vector<uint8_t> config = r.blob(config_.size());
  if (config.size() != config_.size()) throw StateError("balloon record has a bad config size");
  std::copy(config.begin(), config.end(), config_.begin());
  const bool held = r.boolean();
  const uint16_t head = r.u16();
  held_stats_.reset();
  if (held) held_stats_ = head;
  report_.valid = r.boolean();
  for (uint64_t* v : {&report_.free_bytes, &report_.total_bytes, &report_.available_bytes}) {
    *v = r.u64();
  }
  report_.balloon_pages = config_u32(4);  // not in the record: `actual` as restored
  BalloonStats& s = stats_;
  for (uint64_t* v : {&s.target_pages, &s.actual_pages, &s.ballooned_pages, &s.inflated_total,
                      &s.deflated_total, &s.reported_free_pages, &s.discarded_pages,
                      &s.rejected_pfns, &s.duplicate_inflates, &s.stray_deflates,
                      &s.stats_updates}) {
    *v = r.u64();
  }
}

}  // namespace densevm
