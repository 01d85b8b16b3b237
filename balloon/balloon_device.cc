#include "balloon/balloon_device.h"

#include <algorithm>
#include <cstring>

namespace densevm {
namespace {

// §5.5.6.3 statistic tags we use; the rest are accepted and ignored.
constexpr uint16_t kTagMemFree = 4, kTagMemTotal = 5, kTagAvailable = 6;
constexpr size_t kStatEntryBytes = 10;  // le16 tag, le64 val, packed
constexpr size_t kStatsMaxBytes = 4096;
constexpr size_t kPfnChunk = 1024;

uint64_t frame_count(const GuestMemory& m) {
  const GuestMemory::Range& last = m.ram_ranges().back();
  return (last.begin.value() + last.size) >> kPageShift;
}

}  // namespace

BalloonDevice::BalloonDevice(GuestMemory& memory)
    : memory_(memory), ballooned_((frame_count(memory) + 63) / 64) {}

unsigned BalloonDevice::queue_count(uint64_t features) const {
  return 2 + ((features & kFStatsVq) ? 1 : 0) + ((features & kFReporting) ? 1 : 0);
}

std::optional<unsigned> BalloonDevice::stats_queue() const {
  if (!(features_ & kFStatsVq)) return std::nullopt;
  return 2;
}

std::optional<unsigned> BalloonDevice::reporting_queue() const {
  if (!(features_ & kFReporting)) return std::nullopt;
  return (features_ & kFStatsVq) ? 3 : 2;
}

uint32_t BalloonDevice::config_u32(unsigned offset) const {
  uint32_t v = 0;
  std::memcpy(&v, config_.data() + offset, sizeof v);
  return v;
}

void BalloonDevice::set_target_pages(uint64_t pages) {
  const uint32_t clamped =
      static_cast<uint32_t>(std::min<uint64_t>(pages, memory_.ram_bytes() >> kPageShift));
  if (clamped == config_u32(0)) return;
  std::memcpy(config_.data(), &clamped, sizeof clamped);
  if (link() != nullptr) link()->config_change_notification();
}

void BalloonDevice::config_write(uint32_t offset, unsigned size, uint64_t value) {
  // Only `actual` (bytes 4..7) is the driver's to write (§5.5.4).
  for (unsigned i = 0; i < size && i < 8; ++i) {
    const uint32_t at = offset + i;
    if (at >= 4 && at < 8) config_[at] = static_cast<uint8_t>(value >> (8 * i));
  }
}

void BalloonDevice::reset() {
  // A reset driver believes it owns all of RAM again: the balloon is empty.
  clear_bitmap();
  stats_.deflated_total += stats_.ballooned_pages;
  stats_.ballooned_pages = 0;
  features_ = 0;
  held_stats_.reset();
  std::memset(config_.data() + 4, 0, 4);
}

void BalloonDevice::clear_bitmap() {
  if (bitmap_empty_) return;
  for (size_t i = 0; i < ballooned_.size(); ++i) ballooned_[i] = 0;
  bitmap_empty_ = true;
}

bool BalloonDevice::in_balloon(Gpa gpa) const {
  const uint64_t pfn = gpa.page_number();
  return !bitmap_empty_ && pfn / 64 < ballooned_.size() && (ballooned_[pfn / 64] >> (pfn % 64)) & 1;
}

BalloonStats BalloonDevice::stats() const {
  BalloonStats s = stats_;
  s.target_pages = config_u32(0);
  s.actual_pages = config_u32(4);
  return s;
}

QueueError BalloonDevice::queue_notify(unsigned index) {
  Virtqueue* q = link()->queue(index);
  if (q == nullptr) return QueueError::kNone;
  if (index == 0) return drain_pfns(*q, PfnOp::kInflate);
  if (index == 1) return drain_pfns(*q, PfnOp::kDeflate);
  if (index == stats_queue()) return drain_stats(*q);
  if (index == reporting_queue()) return drain_reports(*q);
  return QueueError::kNone;
}

void BalloonDevice::discard(Gpa page) {
  if (memory_.discard(page)) ++stats_.discarded_pages;
}

void BalloonDevice::apply_pfn(uint32_t pfn, PfnOp op) {
  const Gpa page = Gpa::from_page(pfn);
  if (!memory_.is_ram(page)) {
    ++stats_.rejected_pfns;
    return;
  }
  uint64_t& word = ballooned_[pfn / 64];
  const uint64_t bit = uint64_t{1} << (pfn % 64);
  if (op == PfnOp::kInflate) {
    if (word & bit) {
      ++stats_.duplicate_inflates;
      return;
    }
    word |= bit;
    bitmap_empty_ = false;
    ++stats_.ballooned_pages;
    ++stats_.inflated_total;
    discard(page);
    return;
  }
  if (!(word & bit)) {
    ++stats_.stray_deflates;
    return;
  }
  // The page stays unmapped: the guest's next touch takes a fresh zero frame.
  word &= ~bit;
  --stats_.ballooned_pages;
  ++stats_.deflated_total;
}

QueueError BalloonDevice::drain_pfns(Virtqueue& q, PfnOp op) {
  bool any = false;
  uint32_t pfns[kPfnChunk];
  while (true) {
    std::optional<Chain> chain;
    if (QueueError e = q.pop(chain); e != QueueError::kNone) return e;
    if (!chain) break;
    uint64_t chain_pfns = 0;
    for (const Segment& s : chain->segments) {
      if (!s.device_writable) chain_pfns += s.len / sizeof(uint32_t);
    }
    if (chain_pfns > kMaxPfnsPerChain) return QueueError::kBadBuffer;
    for (const Segment& s : chain->segments) {
      if (s.device_writable) continue;  // PFN arrays are device-readable (§5.5.6)
      const uint64_t count = s.len / sizeof(uint32_t);
      for (uint64_t done = 0; done < count;) {
        const uint64_t n = std::min<uint64_t>(count - done, kPfnChunk);
        if (!memory_.read(s.addr + done * sizeof(uint32_t), pfns, n * sizeof(uint32_t))) {
          return QueueError::kBadBuffer;
        }
        for (uint64_t i = 0; i < n; ++i) apply_pfn(pfns[i], op);
        done += n;
      }
    }
    if (QueueError e = q.push_used(chain->head, 0); e != QueueError::kNone) return e;
    any = true;
  }
  if (any) {
    memory_.frames().flush_released();  // RSS falls now, not at the next full batch
    link()->used_buffer_notification();
  }
  return QueueError::kNone;
}

QueueError BalloonDevice::drain_reports(Virtqueue& q) {
  bool any = false;
  while (true) {
    std::optional<Chain> chain;
    if (QueueError e = q.pop(chain); e != QueueError::kNone) return e;
    if (!chain) break;
    for (const Segment& s : chain->segments) {
      // Only whole pages inside the reported range are discarded.
      const uint64_t begin = (s.addr.value() + kPageMask) & ~kPageMask;
      const uint64_t end = (s.addr.value() + s.len) & ~kPageMask;
      for (uint64_t a = begin; a < end; a += kPageSize) {
        ++stats_.reported_free_pages;
        discard(Gpa{a});
      }
    }
    if (QueueError e = q.push_used(chain->head, 0); e != QueueError::kNone) return e;
    any = true;
  }
  if (any) {
    memory_.frames().flush_released();
    link()->used_buffer_notification();
  }
  return QueueError::kNone;
}

QueueError BalloonDevice::drain_stats(Virtqueue& q) {
  while (true) {
    std::optional<Chain> chain;
    if (QueueError e = q.pop(chain); e != QueueError::kNone) return e;
    if (!chain) return QueueError::kNone;
    uint8_t buf[kStatsMaxBytes];
    size_t have = 0;
    for (const Segment& s : chain->segments) {
      if (s.device_writable || have == sizeof buf) continue;
      const size_t n = std::min<size_t>(s.len, sizeof buf - have);
      if (!memory_.read(s.addr, buf + have, n)) return QueueError::kBadBuffer;
      have += n;
    }
    GuestMemoryReport r;
    for (size_t at = 0; at + kStatEntryBytes <= have; at += kStatEntryBytes) {
      uint16_t tag = 0;
      uint64_t val = 0;
      std::memcpy(&tag, buf + at, sizeof tag);
      std::memcpy(&val, buf + at + 2, sizeof val);
      if (tag == kTagMemFree) r.free_bytes = val;
      if (tag == kTagMemTotal) r.total_bytes = val;
      if (tag == kTagAvailable) r.available_bytes = val;
    }
    r.valid = r.total_bytes != 0;
    r.balloon_pages = config_u32(4);
    report_ = r;
    ++stats_.stats_updates;
    // One buffer is held until the host wants fresh figures; a second one replaces it.
    if (held_stats_) {
      if (QueueError e = q.push_used(*held_stats_, 0); e != QueueError::kNone) return e;
      link()->used_buffer_notification();
    }
    held_stats_ = chain->head;
  }
}

void BalloonDevice::request_stats() {
  if (!held_stats_ || !stats_queue()) return;
  Virtqueue* q = link() != nullptr ? link()->queue(*stats_queue()) : nullptr;
  if (q == nullptr) return;
  const uint16_t head = *held_stats_;
  held_stats_.reset();
  if (QueueError e = q->push_used(head, 0); e != QueueError::kNone) {
    link()->device_failed(e);
    return;
  }
  link()->used_buffer_notification();
}

}  // namespace densevm
