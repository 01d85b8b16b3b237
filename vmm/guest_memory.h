// GuestMemory: one VM's RAM, as the VMM and its services see it.
//
// RAM is demand-paged: a guest-physical page gets a zeroed FrameStore frame on first touch
// and is mapped RWX in the VM's EPT-format P2M. RAM sits below the 3 GiB MMIO window (local
// APIC, virtio-mmio) and continues at 4 GiB, as on a PC. This is the one consumer-side
// interface to guest memory: host-side reads and writes (loader, devices) come through here.
//
//   GuestMemory mem(frames, 512ull << 20);
//   mem.write(Gpa{0x100000}, image.data(), image.size());
//   uint64_t pages = mem.resident_pages();
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ept/p2m.h"
#include "vmm/frame_store.h"
#include "vmm/types.h"

namespace densevm {

class GuestMemory {
 public:
  static constexpr uint64_t kLowRamLimit = uint64_t{3} << 30;  // MMIO window starts here
  static constexpr uint64_t kHighRamBase = uint64_t{4} << 30;

  struct Range {
    Gpa begin;
    uint64_t size;
  };

  GuestMemory(FrameStore& frames, uint64_t ram_bytes);

  [[nodiscard]] const std::vector<Range>& ram_ranges() const { return ranges_; }
  [[nodiscard]] uint64_t ram_bytes() const { return ram_bytes_; }
  [[nodiscard]] bool is_ram(Gpa gpa) const;

  enum class Populate : uint8_t { kMapped, kNotRam, kOutOfMemory };
  // Gives a RAM page a zeroed frame if it has none yet.
  [[nodiscard]] Populate populate(Gpa gpa);
  // A guest write hit a mapped page the EPT keeps read-only because its frame is shared
  // (content-hash sharing, clones): copy-on-write. A shared frame is copied to a private
  // one mapped writable; a frame this page alone still holds is simply made writable.
  // kNotRam if nothing is mapped at gpa.
  [[nodiscard]] Populate break_cow(Gpa gpa);
  [[nodiscard]] uint64_t cow_breaks() const { return cow_breaks_; }

  // Pages given a frame on first touch are appended to *log while one is set (a checkpoint
  // needs them: P2M listeners hear of changed entries, not of new ones). nullptr stops it.
  void set_populate_log(std::vector<Gpa>* log) { populate_log_ = log; }

  // Host pointer to the page holding gpa, ready for the host to write: populated, and made
  // private if its frame is shared. nullptr if not RAM or out of memory.
  [[nodiscard]] uint8_t* writable_page(Gpa gpa);

  // Host-side copies; false if any byte is outside RAM (nothing is written then).
  [[nodiscard]] bool write(Gpa gpa, const void* data, size_t size);
  [[nodiscard]] bool read(Gpa gpa, void* data, size_t size);

  [[nodiscard]] P2m& p2m() { return p2m_; }
  [[nodiscard]] FrameStore& frames() { return frames_; }
  [[nodiscard]] uint64_t resident_pages() const { return p2m_.stats().mapped_pages; }

 private:
  [[nodiscard]] bool range_is_ram(Gpa gpa, size_t size) const;

  FrameStore& frames_;
  P2m p2m_;
  uint64_t ram_bytes_;
  std::vector<Range> ranges_;
  uint64_t cow_breaks_ = 0;
  std::vector<Gpa>* populate_log_ = nullptr;
};

}  // namespace densevm
