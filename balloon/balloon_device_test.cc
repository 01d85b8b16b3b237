// The balloon device driven by a hostile driver: crafted rings in a GuestMemory.
#include "balloon/balloon_device.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "virtio/virtio_mmio.h"

namespace densevm {
namespace {

constexpr uint64_t kRam = uint64_t{16} << 20;
constexpr uint16_t kSize = 16;
constexpr uint64_t kRings = 0x10000;    // queue q: desc at +q*0x1000, avail +0x400, used +0x800
constexpr uint64_t kBuffers = 0x20000;  // PFN arrays and other buffers
constexpr uint64_t kFeatures = BalloonDevice::kFStatsVq | BalloonDevice::kFDeflateOnOom |
                               BalloonDevice::kFReporting | kVirtioFVersion1;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

class HostileDriver : public ::testing::Test {
 protected:
  HostileDriver() : frames_(uint64_t{64} << 20), memory_(frames_, kRam), balloon_(memory_),
                    mmio_(memory_, balloon_) {}

  void write_reg(uint64_t off, uint32_t v) { mmio_.write(off, 4, v); }

  // §3.1.1 with all four queues; DRIVER_OK.
  void bring_up() {
    write_reg(0x70, 0);
    write_reg(0x70, 3);
    write_reg(0x24, 0);
    write_reg(0x20, static_cast<uint32_t>(kFeatures));
    write_reg(0x24, 1);
    write_reg(0x20, static_cast<uint32_t>(kFeatures >> 32));
    write_reg(0x70, 11);
    ASSERT_TRUE(mmio_.status() & VirtioMmio::kStatusFeaturesOk);
    const std::vector<uint8_t> zeros(4 * 0x1000, 0);  // fresh rings, as a re-initialising driver
    ASSERT_TRUE(memory_.write(Gpa{kRings}, zeros.data(), zeros.size()));
    for (uint32_t q = 0; q < 4; ++q) {
      write_reg(0x30, q);
      write_reg(0x38, kSize);
      write_reg(0x80, static_cast<uint32_t>(ring(q)));
      write_reg(0x90, static_cast<uint32_t>(ring(q) + 0x400));
      write_reg(0xa0, static_cast<uint32_t>(ring(q) + 0x800));
      write_reg(0x44, 1);
    }
    write_reg(0x70, 15);
    ASSERT_EQ(mmio_.status(), 15u);
  }

  static uint64_t ring(uint32_t q) { return kRings + q * 0x1000; }

  void put_desc(uint32_t q, uint16_t i, Desc d) {
    ASSERT_TRUE(memory_.write(Gpa{ring(q) + 16ull * i}, &d, sizeof d));
  }
  // Offers head `head` on queue q and notifies.
  void offer(uint32_t q, uint16_t head) {
    uint16_t idx = 0;
    ASSERT_TRUE(memory_.read(Gpa{ring(q) + 0x400 + 2}, &idx, 2));
    ASSERT_TRUE(memory_.write(Gpa{ring(q) + 0x400 + 4 + 2ull * (idx % kSize)}, &head, 2));
    ++idx;
    ASSERT_TRUE(memory_.write(Gpa{ring(q) + 0x400 + 2}, &idx, 2));
    write_reg(0x50, q);
  }
  uint16_t used_idx(uint32_t q) {
    uint16_t idx = 0;
    EXPECT_TRUE(memory_.read(Gpa{ring(q) + 0x800 + 2}, &idx, 2));
    return idx;
  }
  // Sends PFNs as one buffer on queue q (0 inflate, 1 deflate).
  void send_pfns(uint32_t q, const std::vector<uint32_t>& pfns) {
    ASSERT_TRUE(memory_.write(Gpa{kBuffers}, pfns.data(), pfns.size() * 4));
    put_desc(q, 0, {kBuffers, static_cast<uint32_t>(pfns.size() * 4), 0, 0});
    offer(q, 0);
  }
  void touch(uint64_t gpa, uint8_t value) { ASSERT_TRUE(memory_.write(Gpa{gpa}, &value, 1)); }
  bool mapped(uint64_t gpa) { return memory_.mapping(Gpa{gpa}).has_value(); }
  bool broken() { return (mmio_.status() & VirtioMmio::kStatusNeedsReset) != 0; }

  FrameStore frames_;
  GuestMemory memory_;
  BalloonDevice balloon_;
  VirtioMmio mmio_;
};

TEST_F(HostileDriver, InflateUnmapsAndDeflateLetsDemandPagingRefill) {
  bring_up();
  touch(0x400000, 7);
  touch(0x401000, 8);
  send_pfns(0, {0x400, 0x401});
  EXPECT_EQ(used_idx(0), 1);
  EXPECT_FALSE(mapped(0x400000));
  EXPECT_FALSE(mapped(0x401000));
  EXPECT_EQ(balloon_.stats().discarded_pages, 2u);
  EXPECT_EQ(frames_.stats().frames_pending, 0u) << "flushed: RSS falls at once";
  EXPECT_EQ(balloon_.stats().ballooned_pages, 2u);

  send_pfns(1, {0x400});
  const BalloonStats s = balloon_.stats();
  EXPECT_EQ(s.ballooned_pages, 1u);
  EXPECT_EQ(s.deflated_total, 1u);
  uint8_t v = 1;
  ASSERT_TRUE(memory_.read(Gpa{0x400000}, &v, 1));
  EXPECT_EQ(v, 0) << "a deflated page comes back zeroed";
  EXPECT_FALSE(broken());
}

// The bitmap through save and restore: the ballooned pages come back in another device, an
// empty record empties a device that had some, and a reset empties it too.
TEST_F(HostileDriver, BallooningSurvivesSaveRestoreAndAnEmptyRecordClearsIt) {
  const BalloonState empty = balloon_.save();
  EXPECT_TRUE(std::all_of(empty.ballooned.begin(), empty.ballooned.end(), [](uint64_t w) { return w == 0; }));
  EXPECT_EQ(empty.ballooned.size(), (kRam / 4096 + 63) / 64);
  bring_up();
  send_pfns(0, {0x400, 0x4c1});
  const BalloonState full = balloon_.save();
  EXPECT_EQ(full.ballooned[0x400 / 64], uint64_t{1} << (0x400 % 64));
  EXPECT_EQ(full.ballooned[0x4c1 / 64], uint64_t{1} << (0x4c1 % 64));

  GuestMemory other_memory(frames_, kRam);
  BalloonDevice other(other_memory);
  EXPECT_FALSE(other.in_balloon(Gpa{0x400000}));
  other.restore(full);
  EXPECT_TRUE(other.in_balloon(Gpa{0x400000}));
  EXPECT_TRUE(other.in_balloon(Gpa{0x4c1000}));
  EXPECT_FALSE(other.in_balloon(Gpa{0x401000}));
  EXPECT_EQ(other.save().ballooned, full.ballooned);

  other.restore(empty);
  EXPECT_FALSE(other.in_balloon(Gpa{0x400000}));
  EXPECT_FALSE(other.in_balloon(Gpa{0x4c1000}));
  EXPECT_EQ(other.save().ballooned, empty.ballooned);

  EXPECT_TRUE(balloon_.in_balloon(Gpa{0x4c1000}));
  balloon_.reset();
  EXPECT_FALSE(balloon_.in_balloon(Gpa{0x4c1000}));
  EXPECT_EQ(balloon_.save().ballooned, empty.ballooned);
}

TEST_F(HostileDriver, DoubleInflateStrayDeflateAndForeignPfnsKeepAccountingRight) {
  bring_up();
  send_pfns(0, {0x500, 0x500, 0xfffffff, 0x5000});  // twice, beyond RAM, and RAM's end
  send_pfns(1, {0x600, 0x500, 0x500});               // never inflated, ok, now stray
  const BalloonStats s = balloon_.stats();
  EXPECT_EQ(s.inflated_total, 1u);
  EXPECT_EQ(s.duplicate_inflates, 1u);
  EXPECT_EQ(s.rejected_pfns, 2u);
  EXPECT_EQ(s.stray_deflates, 2u);
  EXPECT_EQ(s.deflated_total, 1u);
  EXPECT_EQ(s.ballooned_pages, s.inflated_total - s.deflated_total);
  EXPECT_FALSE(broken());
}

TEST_F(HostileDriver, InflatingPagesInUseOnlyHurtsTheGuest) {
  bring_up();
  touch(0x700000, 42);
  send_pfns(0, {0x700, static_cast<uint32_t>(ring(0) >> 12)});  // its data and its own ring
  uint8_t v = 1;
  ASSERT_TRUE(memory_.read(Gpa{0x700000}, &v, 1));
  EXPECT_EQ(v, 0);
  touch(0x700000, 43);  // the guest breaks the protocol: demand paging gives a zero frame
  EXPECT_TRUE(mapped(0x700000));
  EXPECT_EQ(balloon_.stats().ballooned_pages, 2u);
}

TEST_F(HostileDriver, BuffersOutsideRamBreakTheDeviceNotTheVmm) {
  bring_up();
  put_desc(0, 0, {kRam - 4, 8, 0, 0});  // straddles the end of RAM
  offer(0, 0);
  EXPECT_TRUE(broken());
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadBuffer);
  EXPECT_TRUE(mmio_.interrupt_status() & VirtioMmio::kInterruptConfigChange);
  send_pfns(0, {0x400});  // ignored until reset
  EXPECT_EQ(balloon_.stats().inflated_total, 0u);
  bring_up();  // status 0 resets; the device works again
  EXPECT_FALSE(broken());
  send_pfns(0, {0x400});
  EXPECT_EQ(balloon_.stats().inflated_total, 1u);
}

TEST_F(HostileDriver, HugeLengthsAreRefused) {
  bring_up();
  put_desc(0, 0, {kBuffers, 0xffffffff, 0, 0});
  offer(0, 0);
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadBuffer);
}

// One notify's work is bounded: a chain of more PFNs than kMaxPfnsPerChain breaks the
// device before any of them is applied; one of exactly that many is served.
TEST_F(HostileDriver, ChainsOfTooManyPfnsBreakTheDeviceBeforeAnyWork) {
  bring_up();
  const uint64_t max = BalloonDevice::kMaxPfnsPerChain;
  std::vector<uint32_t> pfns(max, 0x900);  // one page, named max times: cheap to check
  pfns[0] = 0x901;
  send_pfns(0, pfns);
  EXPECT_FALSE(broken());
  EXPECT_EQ(balloon_.stats().inflated_total, 2u);
  EXPECT_EQ(balloon_.stats().duplicate_inflates, max - 2);
  // The same buffer split over two descriptors of one chain, one PFN more.
  pfns.assign(max + 1, 0x902);
  ASSERT_TRUE(memory_.write(Gpa{kBuffers}, pfns.data(), pfns.size() * 4));
  put_desc(0, 0, {kBuffers, 4 * 2048, 1 /* NEXT */, 1});
  put_desc(0, 1, {kBuffers + 4 * 2048, static_cast<uint32_t>(4 * (max + 1 - 2048)), 0, 0});
  offer(0, 0);
  EXPECT_TRUE(broken());
  EXPECT_EQ(balloon_.stats().inflated_total, 2u) << "nothing of the refused chain was applied";
}

TEST_F(HostileDriver, LoopingChainsAreRefused) {
  bring_up();
  put_desc(0, 0, {kBuffers, 4, 1, 1});
  put_desc(0, 1, {kBuffers, 4, 1, 0});  // 0 -> 1 -> 0 -> ...
  offer(0, 0);
  EXPECT_EQ(mmio_.last_failure(), QueueError::kChainTooLong);
}

TEST_F(HostileDriver, BadIndexesAndIndirectAreRefused) {
  bring_up();
  put_desc(0, 0, {kBuffers, 4, 1, kSize});  // next beyond the table
  offer(0, 0);
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadIndex);
  bring_up();
  offer(0, kSize + 3);  // head beyond the table
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadIndex);
  bring_up();
  put_desc(0, 0, {kBuffers, 16, 4, 0});
  offer(0, 0);
  EXPECT_EQ(mmio_.last_failure(), QueueError::kIndirect);
  bring_up();
  const uint16_t runaway = 1000;  // avail.idx far ahead of what the ring holds
  ASSERT_TRUE(memory_.write(Gpa{ring(0) + 0x400 + 2}, &runaway, 2));
  write_reg(0x50, 0);
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadIndex);
}

TEST_F(HostileDriver, RingsOutsideRamFailAtQueueReady) {
  write_reg(0x70, 0);
  write_reg(0x70, 3);
  write_reg(0x24, 1);
  write_reg(0x20, 1);
  write_reg(0x70, 11);
  write_reg(0x30, 0);
  write_reg(0x38, kSize);
  write_reg(0x80, 0xfee00000);  // the local APIC, not RAM
  write_reg(0x44, 1);
  EXPECT_TRUE(broken());
  EXPECT_EQ(mmio_.last_failure(), QueueError::kBadRingAddress);
}

TEST_F(HostileDriver, FreePageReportsDiscardWholePagesOnly) {
  bring_up();
  for (uint64_t a = 0x800000; a < 0x804000; a += kPageSize) touch(a, 1);
  put_desc(3, 0, {0x800800, 3 * 4096, 2, 0});  // device-writable; whole pages 0x801, 0x802
  offer(3, 0);
  EXPECT_TRUE(mapped(0x800000));
  EXPECT_FALSE(mapped(0x801000));
  EXPECT_FALSE(mapped(0x802000));
  EXPECT_TRUE(mapped(0x803000));
  EXPECT_EQ(balloon_.stats().reported_free_pages, 2u);
  EXPECT_EQ(balloon_.stats().ballooned_pages, 0u) << "reported pages stay the guest's";
}

TEST_F(HostileDriver, StatsBufferIsHeldUntilTheHostAsks) {
  bring_up();
  const uint8_t entries[20] = {4, 0, 0, 0, 0x10, 0, 0, 0, 0, 0,   // MEMFREE 1 MiB
                               5, 0, 0, 0, 0x40, 0, 0, 0, 0, 0};  // MEMTOT 4 MiB
  ASSERT_TRUE(memory_.write(Gpa{kBuffers}, entries, sizeof entries));
  put_desc(2, 0, {kBuffers, sizeof entries, 0, 0});
  offer(2, 0);
  EXPECT_EQ(used_idx(2), 0) << "held";
  EXPECT_EQ(balloon_.guest_report().free_bytes, uint64_t{1} << 20);
  EXPECT_EQ(balloon_.guest_report().total_bytes, uint64_t{4} << 20);
  balloon_.request_stats();
  EXPECT_EQ(used_idx(2), 1);
}

TEST_F(HostileDriver, TargetChangesRaiseConfigInterrupts) {
  bring_up();
  const uint64_t gen = mmio_.read(0xfc, 4);
  balloon_.set_target_pages(1000);
  EXPECT_EQ(mmio_.read(0x100, 4), 1000u);
  EXPECT_NE(mmio_.read(0xfc, 4), gen);
  EXPECT_TRUE(mmio_.interrupt_status() & VirtioMmio::kInterruptConfigChange);
  mmio_.write(0x100, 4, 5);  // num_pages is the device's
  mmio_.write(0x104, 4, 77);
  EXPECT_EQ(balloon_.stats().target_pages, 1000u);
  EXPECT_EQ(balloon_.stats().actual_pages, 77u);
  balloon_.set_target_pages(uint64_t{1} << 40);
  EXPECT_EQ(balloon_.stats().target_pages, kRam >> kPageShift) << "clamped to RAM";
}

}  // namespace
}  // namespace densevm
