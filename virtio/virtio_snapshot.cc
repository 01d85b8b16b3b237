// save/restore of the virtio-mmio transport and its queues (see vmm/snapshot_state.h).
#include "virtio/virtio_mmio.h"
#include "virtio/virtqueue.h"

namespace densevm {

void Virtqueue::save(StateWriter& w) const {
  w.boolean(ready_);
  w.u16(layout_.size);
  w.u64(layout_.desc.value());
  w.u64(layout_.avail.value());
  w.u64(layout_.used.value());
  w.u16(last_avail_);
  w.u16(used_idx_);
  w.u64(popped_);
}

void Virtqueue::restore(StateReader& r) {
  const bool ready = r.boolean();
  QueueLayout l;
  l.size = r.u16();
  l.desc = Gpa{r.u64()};
  l.avail = Gpa{r.u64()};
  l.used = Gpa{r.u64()};
  const uint16_t last_avail = r.u16();
  const uint16_t used_idx = r.u16();
  const uint64_t popped = r.u64();
  reset();
  if (ready && configure(l) != QueueError::kNone) throw StateError("virtqueue record has a bad layout");
  last_avail_ = last_avail;
  used_idx_ = used_idx;
  popped_ = popped;
}

void VirtioMmio::save(StateWriter& w) const {
  w.u32(static_cast<uint32_t>(queues_.size()));
  for (size_t i = 0; i < queues_.size(); ++i) {
    queues_[i].save(w);
    const PendingQueue& p = pending_[i];
    w.u32(p.num);
    w.u64(p.desc);
    w.u64(p.avail);
    w.u64(p.used);
  }
  for (uint32_t v : {status_, device_features_sel_, driver_features_sel_, queue_sel_,
                     interrupt_status_, config_generation_}) {
    w.u32(v);
  }
  w.u64(driver_features_);
  w.u64(negotiated_);
  w.u8(static_cast<uint8_t>(last_failure_));
  w.u64(failures_);
}

void VirtioMmio::restore(StateReader& r) {
  if (r.u32() != queues_.size()) throw StateError("virtio-mmio record has a different queue count");
  for (size_t i = 0; i < queues_.size(); ++i) {
    queues_[i].restore(r);
    PendingQueue& p = pending_[i];
    p.num = r.u32();
    p.desc = r.u64();
    p.avail = r.u64();
    p.used = r.u64();
  }
  for (uint32_t* v : {&status_, &device_features_sel_, &driver_features_sel_, &queue_sel_,
                      &interrupt_status_, &config_generation_}) {
    *v = r.u32();
  }
  driver_features_ = r.u64();
  negotiated_ = r.u64();
  const uint8_t failure = r.u8();
  if (failure > static_cast<uint8_t>(QueueError::kIndirect)) {
    throw StateError("virtio-mmio record has a bad failure code");
  }
  last_failure_ = static_cast<QueueError>(failure);
  failures_ = r.u64();
}

}  // namespace densevm
