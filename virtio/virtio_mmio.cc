#include "virtio/virtio_mmio.h"

#include <algorithm>
#include <cstring>

namespace densevm {
namespace {

// §4.2.2 register offsets (version 2).
enum Reg : uint64_t {
  kMagic = 0x000,
  kVersion = 0x004,
  kDeviceId = 0x008,
  kVendorId = 0x00c,
  kDeviceFeatures = 0x010,
  kDeviceFeaturesSel = 0x014,
  kDriverFeatures = 0x020,
  kDriverFeaturesSel = 0x024,
  kQueueSel = 0x030,
  kQueueNumMax = 0x034,
  kQueueNum = 0x038,
  kQueueReady = 0x044,
  kQueueNotify = 0x050,
  kInterruptStatus = 0x060,
  kInterruptAck = 0x064,
  kStatus = 0x070,
  kQueueDescLow = 0x080,
  kQueueDescHigh = 0x084,
  kQueueDriverLow = 0x090,
  kQueueDriverHigh = 0x094,
  kQueueDeviceLow = 0x0a0,
  kQueueDeviceHigh = 0x0a4,
  kConfigGeneration = 0x0fc,
  kConfig = 0x100,
};

constexpr uint32_t kMagicValue = 0x74726976;  // "virt"
constexpr uint32_t kVendor = 0x554d4551;      // "QEMU", as Firecracker and crosvm report

void set_half(uint64_t& v, bool high, uint32_t half) {
  v = high ? (v & 0xffffffffull) | (uint64_t{half} << 32) : (v & ~0xffffffffull) | half;
}

}  // namespace

VirtioMmio::VirtioMmio(GuestMemory& memory, VirtioDevice& device) : device_(device) {
  const unsigned n = device.queue_count(device.device_features());
  queues_.assign(n, Virtqueue(memory));
  pending_.resize(n);
  device_.attach(this);
}

unsigned VirtioMmio::queue_count() const {
  const uint64_t features = (status_ & kStatusFeaturesOk) ? negotiated_ : device_.device_features();
  return std::min<unsigned>(device_.queue_count(features), static_cast<unsigned>(queues_.size()));
}

bool VirtioMmio::active() const {
  return (status_ & kStatusDriverOk) && !(status_ & kStatusNeedsReset);
}

Virtqueue* VirtioMmio::queue(unsigned index) {
  if (!active() || index >= queue_count() || !queues_[index].ready()) return nullptr;
  return &queues_[index];
}

void VirtioMmio::config_change_notification() {
  ++config_generation_;
  interrupt_status_ |= kInterruptConfigChange;
}

void VirtioMmio::device_failed(QueueError why) {
  last_failure_ = why;
  ++failures_;
  status_ |= kStatusNeedsReset;
  interrupt_status_ |= kInterruptConfigChange;  // §2.1.2: tell the driver
}

void VirtioMmio::reset() {
  for (Virtqueue& q : queues_) q.reset();
  for (PendingQueue& p : pending_) p = {};
  status_ = 0;
  device_features_sel_ = driver_features_sel_ = queue_sel_ = 0;
  driver_features_ = negotiated_ = 0;
  interrupt_status_ = 0;
  device_.reset();
}

uint64_t VirtioMmio::read(uint64_t offset, unsigned size) {
  if (offset >= kConfig) {
    const std::span<const uint8_t> config = device_.config();
    const uint64_t at = offset - kConfig;
    if (size > 8 || at >= config.size() || size > config.size() - at) return 0;
    uint64_t v = 0;
    std::memcpy(&v, config.data() + at, size);
    return v;
  }
  if (size != 4 || offset % 4) return 0;
  return read_register(offset);
}

void VirtioMmio::write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset >= kConfig) {
    const uint64_t at = offset - kConfig;
    if (size <= 8 && at < device_.config().size() && size <= device_.config().size() - at) {
      device_.config_write(static_cast<uint32_t>(at), size, value);
    }
    return;
  }
  if (size != 4 || offset % 4) return;
  write_register(offset, static_cast<uint32_t>(value));
}

uint32_t VirtioMmio::read_register(uint64_t offset) {
  const bool queue_ok = queue_sel_ < queue_count();
  switch (offset) {
    case kMagic: return kMagicValue;
    case kVersion: return 2;
    case kDeviceId: return device_.device_id();
    case kVendorId: return kVendor;
    case kDeviceFeatures: {
      const uint64_t f = device_.device_features() | kVirtioFVersion1;
      if (device_features_sel_ > 1) return 0;
      return static_cast<uint32_t>(device_features_sel_ ? f >> 32 : f);
    }
    case kQueueNumMax: return queue_ok ? Virtqueue::kMaxSize : 0;
    case kQueueReady: return queue_ok && queues_[queue_sel_].ready() ? 1 : 0;
    case kInterruptStatus: return interrupt_status_;
    case kStatus: return status_;
    case kConfigGeneration: return config_generation_;
    default: return 0;
  }
}

void VirtioMmio::write_register(uint64_t offset, uint32_t value) {
  // Queue layout registers count only while the selected queue is not ready (§4.2.2.2).
  PendingQueue* pq = nullptr;
  if (queue_sel_ < queue_count() && !queues_[queue_sel_].ready()) pq = &pending_[queue_sel_];
  switch (offset) {
    case kDeviceFeaturesSel: device_features_sel_ = value; return;
    case kDriverFeaturesSel: driver_features_sel_ = value; return;
    case kDriverFeatures:
      if (driver_features_sel_ <= 1 && !(status_ & kStatusFeaturesOk)) {
        set_half(driver_features_, driver_features_sel_ == 1, value);
      }
      return;
    case kQueueSel: queue_sel_ = value; return;
    case kQueueNum: if (pq) pq->num = value; return;
    case kQueueDescLow: if (pq) set_half(pq->desc, false, value); return;
    case kQueueDescHigh: if (pq) set_half(pq->desc, true, value); return;
    case kQueueDriverLow: if (pq) set_half(pq->avail, false, value); return;
    case kQueueDriverHigh: if (pq) set_half(pq->avail, true, value); return;
    case kQueueDeviceLow: if (pq) set_half(pq->used, false, value); return;
    case kQueueDeviceHigh: if (pq) set_half(pq->used, true, value); return;
    case kQueueReady:
      if (queue_sel_ >= queue_count() || (status_ & kStatusNeedsReset)) return;
      if (value == 0) {
        queues_[queue_sel_].reset();
      } else if (pq) {
        const QueueLayout layout{static_cast<uint16_t>(pq->num > Virtqueue::kMaxSize ? 0 : pq->num),
                                 Gpa{pq->desc}, Gpa{pq->avail}, Gpa{pq->used}};
        if (QueueError e = queues_[queue_sel_].configure(layout); e != QueueError::kNone) {
          device_failed(e);
        }
      }
      return;
    case kQueueNotify:
      if (active() && value < queue_count() && queues_[value].ready()) {
        if (QueueError e = device_.queue_notify(value); e != QueueError::kNone) device_failed(e);
      }
      return;
    case kInterruptAck: interrupt_status_ &= ~value; return;
    case kStatus: write_status(value); return;
    default: return;
  }
}

void VirtioMmio::write_status(uint32_t value) {
  if (value == 0) {
    reset();
    return;
  }
  const uint32_t before = status_;
  status_ = (value & ~kStatusNeedsReset) | (before & kStatusNeedsReset);
  // §3.1.1 step 5: FEATURES_OK sticks only for a subset of what we offer, with VERSION_1.
  if ((status_ & kStatusFeaturesOk) && !(before & kStatusFeaturesOk)) {
    const uint64_t offered = device_.device_features() | kVirtioFVersion1;
    if ((driver_features_ & ~offered) || !(driver_features_ & kVirtioFVersion1)) {
      status_ &= ~kStatusFeaturesOk;
    } else {
      negotiated_ = driver_features_;
    }
  }
  if ((status_ & kStatusDriverOk) && !(before & kStatusDriverOk)) {
    if (!(status_ & kStatusFeaturesOk)) {
      status_ &= ~kStatusDriverOk;
      return;
    }
    if (status_ & kStatusNeedsReset) return;
    device_.activate(negotiated_);
    // Buffers a driver offered before DRIVER_OK (Linux kicks statsq early) are used now:
    // a device consumes nothing before DRIVER_OK (§3.1.1).
    for (unsigned i = 0; i < queue_count() && !(status_ & kStatusNeedsReset); ++i) {
      if (!queues_[i].ready()) continue;
      if (QueueError e = device_.queue_notify(i); e != QueueError::kNone) device_failed(e);
    }
  }
}

}  // namespace densevm
