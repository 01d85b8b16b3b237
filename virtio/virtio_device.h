// VirtioDevice: what a virtio device model implements so that a transport can carry it, and
// VirtioLink: what the device sees of that transport.
//
// The transport (virtio_mmio.h) owns feature negotiation, status, the queues and interrupt
// status; the device owns its config space and what a buffer means. A device never keeps a
// pointer into guest memory: each notify pops chains from the queues and reads them through
// GuestMemory. A device reports a broken queue as a QueueError; the transport then sets
// DEVICE_NEEDS_RESET and stops the device, never the VM.
//
//   class Rng : public VirtioDevice { uint32_t device_id() const override { return 4; } ... };
//   VirtioMmio transport(memory, rng);
//   transport.write(0x50, 4, 0);   // QueueNotify: calls rng.queue_notify(0)
#pragma once

#include <cstdint>
#include <span>

#include "virtio/virtqueue.h"

namespace densevm {

inline constexpr uint64_t kVirtioFVersion1 = uint64_t{1} << 32;  // §6

class VirtioLink {
 public:
  virtual ~VirtioLink() = default;
  // A configured, ready queue, or nullptr.
  [[nodiscard]] virtual Virtqueue* queue(unsigned index) = 0;
  // Interrupt status bit 0: the device used buffers (§4.2.2).
  virtual void used_buffer_notification() = 0;
  // Interrupt status bit 1 and a new config generation: the device changed its config.
  virtual void config_change_notification() = 0;
  // A queue turned out broken outside a notify (e.g. while returning a held buffer).
  virtual void device_failed(QueueError why) = 0;
};

class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;
  [[nodiscard]] virtual uint32_t device_id() const = 0;
  // Device-specific feature bits offered; the transport adds VIRTIO_F_VERSION_1.
  [[nodiscard]] virtual uint64_t device_features() const = 0;
  // How many queues exist under these features (some devices' queues depend on them).
  [[nodiscard]] virtual unsigned queue_count(uint64_t features) const = 0;
  // The device-specific config space (§4.2.2 offset 0x100 on); read by the transport.
  [[nodiscard]] virtual std::span<const uint8_t> config() const = 0;
  // A driver write of `size` bytes at `offset` into config; the device decides what sticks.
  virtual void config_write(uint32_t offset, unsigned size, uint64_t value) = 0;
  // The driver set DRIVER_OK with these features; queues are configured.
  virtual void activate(uint64_t features) = 0;
  // Status 0 written or DEVICE_NEEDS_RESET: forget queue state (not host-side targets).
  virtual void reset() = 0;
  // The driver notified `index`; a non-kNone result breaks the device.
  [[nodiscard]] virtual QueueError queue_notify(unsigned index) = 0;

  // Set once by the transport that carries this device.
  void attach(VirtioLink* link) { link_ = link; }

 protected:
  [[nodiscard]] VirtioLink* link() const { return link_; }

 private:
  VirtioLink* link_ = nullptr;
};

}  // namespace densevm
