#include "virtio/virtqueue.h"

#include <algorithm>

namespace densevm {
namespace {

// §2.7.5 descriptor flags.
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kDescIndirect = 4;

struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);

// §2.7.6 / §2.7.8: flags, idx, then the ring.
constexpr uint64_t kRingHeader = 4;
constexpr uint64_t kUsedElemSize = 8;

}  // namespace

const char* queue_error_name(QueueError e) {
  switch (e) {
    case QueueError::kNone: return "ok";
    case QueueError::kBadRingAddress: return "ring outside RAM or misaligned";
    case QueueError::kBadIndex: return "ring index out of range";
    case QueueError::kBadBuffer: return "buffer outside RAM or too long";
    case QueueError::kChainTooLong: return "descriptor chain loops or is too long";
    case QueueError::kBadOrder: return "device-readable buffer after a device-writable one";
    case QueueError::kIndirect: return "indirect descriptor (not negotiated)";
  }
  return "unknown";
}

bool ram_contains(const GuestMemory& memory, Gpa gpa, uint64_t len) {
  for (const GuestMemory::Range& r : memory.ram_ranges()) {
    if (gpa >= r.begin && gpa - r.begin < r.size) return len <= r.size - (gpa - r.begin);
  }
  return false;
}

QueueError Virtqueue::configure(const QueueLayout& l) {
  ready_ = false;
  if (l.size == 0 || l.size > kMaxSize) return QueueError::kBadIndex;
  // §2.7 alignment: descriptor table 16, driver area 2, device area 4.
  if (l.desc.value() % 16 || l.avail.value() % 2 || l.used.value() % 4) {
    return QueueError::kBadRingAddress;
  }
  if (!ram_contains(*memory_, l.desc, 16ull * l.size) ||
      !ram_contains(*memory_, l.avail, kRingHeader + 2ull * l.size + 2) ||
      !ram_contains(*memory_, l.used, kRingHeader + kUsedElemSize * l.size + 2)) {
    return QueueError::kBadRingAddress;
  }
  layout_ = l;
  last_avail_ = used_idx_ = 0;
  ready_ = true;
  return QueueError::kNone;
}

void Virtqueue::reset() {
  layout_ = {};
  ready_ = false;
  last_avail_ = used_idx_ = 0;
  popped_ = 0;
}

QueueError Virtqueue::read_u16(Gpa gpa, uint16_t& v) {
  return memory_->read(gpa, &v, sizeof v) ? QueueError::kNone : QueueError::kBadRingAddress;
}

QueueError Virtqueue::pop(std::optional<Chain>& out) {
  out.reset();
  if (!ready_) return QueueError::kNone;
  uint16_t avail_idx = 0;
  if (QueueError e = read_u16(layout_.avail + 2, avail_idx); e != QueueError::kNone) return e;
  const uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
  if (pending == 0) return QueueError::kNone;
  if (pending > layout_.size) return QueueError::kBadIndex;  // §2.7.13.3: at most size ahead

  uint16_t head = 0;
  const Gpa slot = layout_.avail + kRingHeader + 2ull * (last_avail_ % layout_.size);
  if (QueueError e = read_u16(slot, head); e != QueueError::kNone) return e;
  if (head >= layout_.size) return QueueError::kBadIndex;

  Chain chain{head, {}};
  const unsigned limit = std::min<unsigned>(layout_.size, kMaxChain);
  bool seen_writable = false;
  uint16_t index = head;
  while (true) {
    if (chain.segments.size() >= limit) return QueueError::kChainTooLong;
    VirtqDesc d{};
    if (!memory_->read(layout_.desc + 16ull * index, &d, sizeof d)) {
      return QueueError::kBadRingAddress;
    }
    if (d.flags & kDescIndirect) return QueueError::kIndirect;
    if (d.len == 0 || d.len > kMaxSegmentBytes || !ram_contains(*memory_, Gpa{d.addr}, d.len)) {
      return QueueError::kBadBuffer;
    }
    const bool writable = (d.flags & kDescWrite) != 0;
    if (seen_writable && !writable) return QueueError::kBadOrder;
    seen_writable = writable;
    chain.segments.push_back({Gpa{d.addr}, d.len, writable});
    if (!(d.flags & kDescNext)) break;
    if (d.next >= layout_.size) return QueueError::kBadIndex;
    index = d.next;
  }
  ++last_avail_;
  ++popped_;
  out = std::move(chain);
  return QueueError::kNone;
}

QueueError Virtqueue::push_used(uint16_t head, uint32_t written) {
  if (!ready_) return QueueError::kNone;
  const uint32_t elem[2] = {head, written};
  const Gpa slot = layout_.used + kRingHeader + kUsedElemSize * (used_idx_ % layout_.size);
  if (!memory_->write(slot, elem, sizeof elem)) return QueueError::kBadRingAddress;
  ++used_idx_;
  // The element is in place before idx moves (§2.7.8.2); one thread, so program order.
  if (!memory_->write(layout_.used + 2, &used_idx_, sizeof used_idx_)) {
    return QueueError::kBadRingAddress;
  }
  return QueueError::kNone;
}

}  // namespace densevm
