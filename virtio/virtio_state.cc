// save/restore of the virtio-mmio transport and its queues (core/persist.h).
#include "virtio/virtio_mmio.h"
#include "virtio/virtqueue.h"

namespace densevm {

VirtqueueState Virtqueue::save() const {
  return {ready_, layout_.size, layout_.desc.value(), layout_.avail.value(), layout_.used.value(), last_avail_,
          used_idx_, popped_};
}

void Virtqueue::restore(const VirtqueueState& s) {
  reset();
  if (s.ready && configure({s.size, Gpa{s.desc}, Gpa{s.avail}, Gpa{s.used}}) != QueueError::kNone) {
    throw StateError("virtqueue record has a bad layout");
  }
  last_avail_ = s.last_avail;
  used_idx_ = s.used_idx;
  popped_ = s.popped;
}

VirtioMmioState VirtioMmio::save() const {
  VirtioMmioState s;
  for (size_t i = 0; i < queues_.size(); ++i) {
    const PendingQueue& p = pending_[i];
    s.queues.push_back({queues_[i].save(), p.num, p.desc, p.avail, p.used});
  }
  s.status = status_;
  s.device_features_sel = device_features_sel_;
  s.driver_features_sel = driver_features_sel_;
  s.queue_sel = queue_sel_;
  s.interrupt_status = interrupt_status_;
  s.config_generation = config_generation_;
  s.driver_features = driver_features_;
  s.negotiated = negotiated_;
  s.last_failure = last_failure_;
  s.failures = failures_;
  return s;
}

void VirtioMmio::restore(const VirtioMmioState& s) {
  if (s.queues.size() != queues_.size()) throw StateError("virtio-mmio record has a different queue count");
  if (s.last_failure > QueueError::kIndirect) throw StateError("virtio-mmio record has a bad failure code");
  for (size_t i = 0; i < queues_.size(); ++i) {
    const VirtioMmioState::Queue& q = s.queues[i];
    queues_[i].restore(q.queue);
    pending_[i] = {q.num, q.desc, q.avail, q.used};
  }
  status_ = s.status;
  device_features_sel_ = s.device_features_sel;
  driver_features_sel_ = s.driver_features_sel;
  queue_sel_ = s.queue_sel;
  interrupt_status_ = s.interrupt_status;
  config_generation_ = s.config_generation;
  driver_features_ = s.driver_features;
  negotiated_ = s.negotiated;
  last_failure_ = s.last_failure;
  failures_ = s.failures;
}

}  // namespace densevm
