// Virtqueue: the device side of one split virtqueue (virtio 1.x §2.7), read and written
// through GuestMemory only.
//
// The driver's rings are guest input, so everything is validated as it is read: ring
// addresses inside RAM and aligned (§2.7), heads and `next` indexes below the queue size,
// every buffer inside RAM and at most kMaxSegmentBytes, chains at most min(size,
// kMaxChain) long (a loop can never finish), device-writable buffers after device-readable
// ones (§2.7.4.2), no INDIRECT (not offered). Any violation is a QueueError; the transport
// then marks the device DEVICE_NEEDS_RESET. No host pointer outlives a call.
//
//   Virtqueue q(memory); q.configure({.size = 64, .desc = d, .avail = a, .used = u});
//   std::optional<Chain> c; QueueError e = q.pop(c);     // c is empty when nothing is there
//   if (e == QueueError::kNone && c) e = q.push_used(c->head, 0);
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/persist.h"
#include "core/types.h"
#include "mmu/guest_memory.h"

namespace densevm {

enum class QueueError : uint8_t {
  kNone,
  kBadRingAddress,  // ring outside RAM or misaligned
  kBadIndex,        // avail.idx ran more than `size` ahead, or a head/next >= size
  kBadBuffer,       // buffer outside RAM, too long, or empty
  kChainTooLong,    // a loop, or more than kMaxChain descriptors
  kBadOrder,        // device-readable buffer after a device-writable one
  kIndirect,        // VIRTQ_DESC_F_INDIRECT, which we do not offer
};

[[nodiscard]] const char* queue_error_name(QueueError e);

// One buffer of a chain, already checked to lie inside guest RAM.
struct Segment {
  Gpa addr;
  uint32_t len;
  bool device_writable;
};

struct Chain {
  uint16_t head;
  std::vector<Segment> segments;
};

// A queue's part of a checkpoint (core/persist.h).
struct VirtqueueState {
  bool ready = false;
  uint16_t size = 0;
  uint64_t desc = 0, avail = 0, used = 0;
  uint16_t last_avail = 0, used_idx = 0;
  uint64_t popped = 0;
  static void fields(auto& s, auto& io) { io(s.ready, s.size, s.desc, s.avail, s.used, s.last_avail, s.used_idx, s.popped); }
};

struct QueueLayout {
  uint16_t size = 0;  // entries; 1..max size
  Gpa desc;           // descriptor table, 16-byte aligned
  Gpa avail;          // driver area, 2-byte aligned
  Gpa used;           // device area, 4-byte aligned
};

class Virtqueue {
 public:
  static constexpr uint16_t kMaxSize = 256;
  static constexpr unsigned kMaxChain = 64;
  static constexpr uint32_t kMaxSegmentBytes = uint32_t{4} << 20;  // one order-10 block

  explicit Virtqueue(GuestMemory& memory) : memory_(&memory) {}

  // Checks and takes the layout (QueueReady = 1); the queue stays unusable on an error.
  [[nodiscard]] QueueError configure(const QueueLayout& layout);
  void reset();

  [[nodiscard]] bool ready() const { return ready_; }
  [[nodiscard]] const QueueLayout& layout() const { return layout_; }

  // Next available chain, or nullopt in `out` when the driver has offered nothing new.
  [[nodiscard]] QueueError pop(std::optional<Chain>& out);
  // Returns a chain to the driver with `written` bytes filled in (§2.7.8).
  [[nodiscard]] QueueError push_used(uint16_t head, uint32_t written);

  [[nodiscard]] uint64_t chains_popped() const { return popped_; }
  // A restored layout is checked as configure() checks it; a bad one throws StateError.
  [[nodiscard]] VirtqueueState save() const;
  void restore(const VirtqueueState& s);

 private:
  [[nodiscard]] QueueError read_u16(Gpa gpa, uint16_t& v);

  GuestMemory* memory_;
  QueueLayout layout_;
  bool ready_ = false;
  uint16_t last_avail_ = 0;  // next avail.ring slot the device will consume
  uint16_t used_idx_ = 0;    // device's copy of used.idx
  uint64_t popped_ = 0;
};

// Whether [gpa, gpa + len) lies inside one RAM range of memory (len 0 counts as inside).
[[nodiscard]] bool ram_contains(const GuestMemory& memory, Gpa gpa, uint64_t len);

}  // namespace densevm
