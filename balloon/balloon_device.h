// BalloonDevice: the virtio-balloon device model (virtio 1.x §5.5, device ID 5).
//
// Queues (indexes compacted by the negotiated features, as Linux and QEMU number them):
// inflateq 0, deflateq 1, statsq 2 with VIRTIO_BALLOON_F_STATS_VQ, then reporting_vq with
// VIRTIO_BALLOON_F_REPORTING. Offered: STATS_VQ, DEFLATE_ON_OOM, REPORTING; not
// MUST_TELL_HOST, so a guest may reuse a deflated page before we see the deflate (§5.5.6.1).
// An inflated page is unmapped from the P2M, which releases its frame (listeners flush soft
// TLBs), and the FrameStore is flushed so host RSS falls at once. Touching it again, after a
// deflate or against the protocol, takes a fresh zero frame through demand paging. Reported
// free pages (§5.5.6.6) are discarded the same way but stay the guest's. The device keeps
// its own bitmap of ballooned pages, so hostile PFN lists (outside RAM, twice, never
// inflated) cannot skew the accounting: ballooned == inflated_total - deflated_total.
// Nor make one notify cost the host more than a bounded amount of work: an inflate or
// deflate buffer chain of more than kMaxPfnsPerChain PFNs breaks the device (NEEDS_RESET),
// since the rings' own limits alone allow 256 chains x 64 buffers x 1 Mi PFNs (16 G page
// operations) for one MMIO write. Linux sends 256 PFNs a buffer.
//
//   BalloonDevice balloon(memory);
//   VirtioMmio mmio(memory, balloon);
//   balloon.set_target_pages(100'000);   // config num_pages; the guest driver follows
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/persist.h"
#include "core/zeroed_array.h"
#include "mmu/guest_memory.h"
#include "virtio/virtio_device.h"

namespace densevm {

struct BalloonStats {
  uint64_t target_pages = 0;        // config num_pages: what the host asks for
  uint64_t actual_pages = 0;        // config actual: what the driver says it holds
  uint64_t ballooned_pages = 0;     // pages in the balloon by our own bitmap
  uint64_t inflated_total = 0;      // pages that entered the balloon
  uint64_t deflated_total = 0;      // pages that left it (deflate or device reset)
  uint64_t reported_free_pages = 0; // pages in free page reports
  uint64_t discarded_pages = 0;     // mapped pages unmapped by inflate or report: frames freed
  uint64_t rejected_pfns = 0;       // PFNs outside guest RAM
  uint64_t duplicate_inflates = 0;  // PFNs already in the balloon
  uint64_t stray_deflates = 0;      // PFNs not in the balloon
  uint64_t stats_updates = 0;       // statsq buffers read
};

// The guest's own figures from the statistics queue (§5.5.6.3), in bytes, and the balloon's
// size (`actual`) when they arrived: free memory excludes the balloon as it was then, not as
// it is when the host reads the figures.
struct GuestMemoryReport {
  bool valid = false;
  uint64_t free_bytes = 0;       // VIRTIO_BALLOON_S_MEMFREE
  uint64_t total_bytes = 0;      // VIRTIO_BALLOON_S_MEMTOT
  uint64_t available_bytes = 0;  // VIRTIO_BALLOON_S_AVAIL
  uint64_t balloon_pages = 0;    // config `actual` at that moment
};

// The balloon's part of a checkpoint (core/persist.h): features, config space, the ballooned
// bitmap, the statistics buffer it holds, the guest's last report and the counters. Ballooned
// pages are simply unmapped, so memory needs nothing more.
struct BalloonState {
  static constexpr uint64_t kMaxBitmapWords = (uint64_t{1} << 40) / 4096 / 64;  // 1 TiB of RAM
  uint64_t features = 0;
  std::vector<uint64_t> ballooned;  // one bit per guest page frame
  std::array<uint8_t, 16> config{};
  std::optional<uint16_t> held_stats;
  bool report_valid = false;
  uint64_t report_free_bytes = 0, report_total_bytes = 0, report_available_bytes = 0;
  BalloonStats stats;
  static void fields(auto& s, auto& io) {
    io(s.features);
    io.words(s.ballooned, kMaxBitmapWords);
    io.blob(s.config);
    io(s.held_stats, s.report_valid, s.report_free_bytes, s.report_total_bytes, s.report_available_bytes);
    auto& t = s.stats;
    io(t.target_pages, t.actual_pages, t.ballooned_pages, t.inflated_total, t.deflated_total, t.reported_free_pages,
       t.discarded_pages, t.rejected_pfns, t.duplicate_inflates, t.stray_deflates, t.stats_updates);
  }
};

class BalloonDevice final : public VirtioDevice {
 public:
  static constexpr uint32_t kDeviceId = 5;
  // PFNs one inflate or deflate chain may carry (16 MiB of guest memory; Linux's driver
  // sends at most 256, VIRTIO_BALLOON_ARRAY_PFNS_MAX): a notify applies at most 256 times this.
  static constexpr uint64_t kMaxPfnsPerChain = 4096;
  // §5.5.3 feature bits.
  static constexpr uint64_t kFMustTellHost = 1ull << 0, kFStatsVq = 1ull << 1,
                            kFDeflateOnOom = 1ull << 2, kFReporting = 1ull << 5;

  explicit BalloonDevice(GuestMemory& memory);

  // Host side (between slices): the balloon size the driver should reach, in 4 KiB pages
  // (clamped to guest RAM). A change raises a config-change notification.
  void set_target_pages(uint64_t pages);
  // Hands the held statsq buffer back so the driver refills it (§5.5.6.3).
  void request_stats();

  [[nodiscard]] BalloonStats stats() const;
  [[nodiscard]] const GuestMemoryReport& guest_report() const { return report_; }
  [[nodiscard]] bool in_balloon(Gpa gpa) const;
  [[nodiscard]] BalloonState save() const;
  void restore(const BalloonState& s);

  // VirtioDevice
  [[nodiscard]] uint32_t device_id() const override { return kDeviceId; }
  [[nodiscard]] uint64_t device_features() const override {
    return kFStatsVq | kFDeflateOnOom | kFReporting;
  }
  [[nodiscard]] unsigned queue_count(uint64_t features) const override;
  [[nodiscard]] std::span<const uint8_t> config() const override { return config_; }
  void config_write(uint32_t offset, unsigned size, uint64_t value) override;
  void activate(uint64_t features) override { features_ = features; }
  void reset() override;
  [[nodiscard]] QueueError queue_notify(unsigned index) override;

 private:
  enum class PfnOp : uint8_t { kInflate, kDeflate };

  [[nodiscard]] QueueError drain_pfns(Virtqueue& q, PfnOp op);
  [[nodiscard]] QueueError drain_reports(Virtqueue& q);
  [[nodiscard]] QueueError drain_stats(Virtqueue& q);
  void apply_pfn(uint32_t pfn, PfnOp op);
  void clear_bitmap();
  void discard(Gpa page);
  [[nodiscard]] std::optional<unsigned> stats_queue() const;
  [[nodiscard]] std::optional<unsigned> reporting_queue() const;
  [[nodiscard]] uint32_t config_u32(unsigned offset) const;

  GuestMemory& memory_;
  uint64_t features_ = 0;
  // One bit per guest page frame, in fresh anonymous memory that nothing touches while the
  // balloon stays empty: a VM built for a restore or a clone does not fault in 32 KiB a GiB
  // before its first instruction (core/zeroed_array.h). bitmap_empty_: no bit set since it
  // was last all zero, so reset and restore need not write it.
  ZeroedArray<uint64_t> ballooned_;
  bool bitmap_empty_ = true;
  // §5.5.4: num_pages, actual, free_page_hint_cmd_id, poison_val (little-endian).
  std::array<uint8_t, 16> config_{};
  std::optional<uint16_t> held_stats_;
  GuestMemoryReport report_;
  BalloonStats stats_;
};

}  // namespace densevm
