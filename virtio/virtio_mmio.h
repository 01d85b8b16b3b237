// VirtioMmio: the virtio-mmio transport, register layout version 2 (virtio 1.x §4.2.2),
// carrying any VirtioDevice.
//
// Control registers take 32-bit aligned accesses only (§4.2.2.2: anything else reads 0 and
// is ignored); config space from 0x100 takes 1, 2, 4 and 8-byte accesses. Feature
// negotiation insists on VIRTIO_F_VERSION_1 (§4.2.2: version 2 is virtio 1.x only). A broken
// queue sets DEVICE_NEEDS_RESET (status bit 64) with a config-change interrupt (§2.1.2) and
// the device ignores the driver until it writes status 0. We have no IOAPIC, so interrupts
// are never delivered; InterruptStatus is still kept exactly, for drivers that poll it.
//
//   VirtioMmio mmio(memory, balloon);
//   uint64_t magic = mmio.read(0x000, 4);     // 0x74726976 "virt"
//   mmio.write(0x050, 4, 0);                  // QueueNotify 0
#pragma once

#include <cstdint>
#include <vector>

#include "core/persist.h"
#include "mmu/guest_memory.h"
#include "virtio/virtio_device.h"
#include "virtio/virtqueue.h"

namespace densevm {

// The transport's part of a checkpoint (core/persist.h): its registers and every queue, with
// the layout the driver is still writing (not ready yet); the device saves its own state.
struct VirtioMmioState {
  static constexpr uint64_t kMaxQueues = 64;
  struct Queue {
    VirtqueueState queue;
    uint32_t num = 0;  // the layout being written
    uint64_t desc = 0, avail = 0, used = 0;
    static void fields(auto& s, auto& io) { io(s.queue, s.num, s.desc, s.avail, s.used); }
  };
  std::vector<Queue> queues;
  uint32_t status = 0, device_features_sel = 0, driver_features_sel = 0, queue_sel = 0;
  uint32_t interrupt_status = 0, config_generation = 0;
  uint64_t driver_features = 0, negotiated = 0;
  QueueError last_failure = QueueError::kNone;
  uint64_t failures = 0;
  static void fields(auto& s, auto& io) {
    io.template list<uint32_t>(s.queues, kMaxQueues);
    io(s.status, s.device_features_sel, s.driver_features_sel, s.queue_sel, s.interrupt_status, s.config_generation,
       s.driver_features, s.negotiated, s.last_failure, s.failures);
  }
};

class VirtioMmio final : public VirtioLink {
 public:
  static constexpr uint64_t kWindowSize = 0x200;
  // §2.1 device status bits.
  static constexpr uint32_t kStatusAcknowledge = 1, kStatusDriver = 2, kStatusDriverOk = 4,
                            kStatusFeaturesOk = 8, kStatusNeedsReset = 64, kStatusFailed = 128;
  static constexpr uint32_t kInterruptUsedBuffer = 1, kInterruptConfigChange = 2;

  VirtioMmio(GuestMemory& memory, VirtioDevice& device);
  VirtioMmio(const VirtioMmio&) = delete;
  VirtioMmio& operator=(const VirtioMmio&) = delete;

  // `offset` from the window base, below kWindowSize.
  [[nodiscard]] uint64_t read(uint64_t offset, unsigned size);
  void write(uint64_t offset, unsigned size, uint64_t value);

  [[nodiscard]] uint32_t status() const { return status_; }
  [[nodiscard]] uint32_t interrupt_status() const { return interrupt_status_; }
  [[nodiscard]] uint64_t negotiated_features() const { return negotiated_; }
  // Why the device last needed a reset (kNone if it never did), and how often.
  [[nodiscard]] QueueError last_failure() const { return last_failure_; }
  [[nodiscard]] uint64_t failures() const { return failures_; }
  [[nodiscard]] VirtioMmioState save() const;
  void restore(const VirtioMmioState& s);

  // VirtioLink
  [[nodiscard]] Virtqueue* queue(unsigned index) override;
  void used_buffer_notification() override { interrupt_status_ |= kInterruptUsedBuffer; }
  void config_change_notification() override;
  void device_failed(QueueError why) override;

 private:
  struct PendingQueue {
    uint32_t num = 0;
    uint64_t desc = 0, avail = 0, used = 0;
  };

  [[nodiscard]] uint32_t read_register(uint64_t offset);
  void write_register(uint64_t offset, uint32_t value);
  void write_status(uint32_t value);
  void reset();
  [[nodiscard]] unsigned queue_count() const;
  [[nodiscard]] bool active() const;

  VirtioDevice& device_;
  std::vector<Virtqueue> queues_;
  std::vector<PendingQueue> pending_;
  uint32_t status_ = 0;
  uint32_t device_features_sel_ = 0;
  uint32_t driver_features_sel_ = 0;
  uint64_t driver_features_ = 0;
  uint64_t negotiated_ = 0;
  uint32_t queue_sel_ = 0;
  uint32_t interrupt_status_ = 0;
  uint32_t config_generation_ = 0;
  QueueError last_failure_ = QueueError::kNone;
  uint64_t failures_ = 0;
};

}  // namespace densevm
