#include "vmm/devices/local_apic.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

constexpr uint64_t kSvr = 0xf0, kEoi = 0xb0, kLvtTimer = 0x320, kInitial = 0x380, kCurrent = 0x390,
                   kDivide = 0x3e0, kIsr = 0x100, kIrr = 0x200;
constexpr uint32_t kMasked = 1u << 16, kPeriodic = 1u << 17;

LocalApic enabled_apic() {
  LocalApic apic;
  apic.write(kSvr, 0x1ff, 0);
  return apic;
}

TEST(LocalApic, ResetValues) {
  LocalApic apic;
  EXPECT_EQ(apic.read(0x20, 0), 0u);
  EXPECT_EQ(apic.read(0x30, 0), 0x00050014u);
  EXPECT_EQ(apic.read(kSvr, 0), 0xffu);
  EXPECT_EQ(apic.read(kLvtTimer, 0), kMasked);
  EXPECT_EQ(apic.read(0xe0, 0), 0xffffffffu);
  EXPECT_FALSE(apic.next_deadline());
  EXPECT_FALSE(apic.has_pending_interrupt());
}

TEST(LocalApic, PlainRegistersReadBack) {
  LocalApic apic = enabled_apic();
  apic.write(0x80, 0x20, 0);
  apic.write(0xd0, 0x01000000, 0);
  apic.write(0xe0, 0x0fffffff, 0);
  apic.write(0x350, 0x700, 0);
  apic.write(0x370, 0x10033, 0);
  EXPECT_EQ(apic.read(0x80, 0), 0x20u);
  EXPECT_EQ(apic.read(0xd0, 0), 0x01000000u);
  EXPECT_EQ(apic.read(0xe0, 0), 0x0fffffffu);
  EXPECT_EQ(apic.read(0x350, 0), 0x700u);
  EXPECT_EQ(apic.read(0x370, 0), 0x10033u);
  EXPECT_EQ(apic.read(kSvr, 0), 0x1ffu);
}

TEST(LocalApic, OneShotDeadlineAndCount) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0x3, 100);  // divide by 16
  apic.write(kLvtTimer, 0x40, 100);
  apic.write(kInitial, 10, 100);
  ASSERT_EQ(apic.next_deadline(), 100u + 160u);
  EXPECT_EQ(apic.read(kCurrent, 100), 10u);
  EXPECT_EQ(apic.read(kCurrent, 101), 10u);  // the count drops once every 16 bus cycles
  EXPECT_EQ(apic.read(kCurrent, 116), 9u);
  EXPECT_EQ(apic.read(kCurrent, 259), 1u);
  apic.advance(259);
  EXPECT_FALSE(apic.has_pending_interrupt());
  apic.advance(260);
  EXPECT_TRUE(apic.has_pending_interrupt());
  EXPECT_FALSE(apic.next_deadline());
  EXPECT_EQ(apic.read(kCurrent, 300), 0u);
  EXPECT_EQ(apic.timer_expiries(), 1u);
  EXPECT_EQ(apic.read(kIrr + 0x20, 300), 1u);  // vector 0x40 is bit 0 of IRR word 2
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x40);
  EXPECT_EQ(apic.read(kIsr + 0x20, 300), 1u);
  EXPECT_EQ(apic.read(kIrr + 0x20, 300), 0u);
}

TEST(LocalApic, PeriodicCatchesUpWithoutDrift) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xb, 0);  // divide by 1
  apic.write(kLvtTimer, kPeriodic | 0x30, 0);
  apic.write(kInitial, 1000, 5);
  EXPECT_EQ(apic.next_deadline(), 1005u);
  apic.advance(1005);
  EXPECT_EQ(apic.next_deadline(), 2005u);
  EXPECT_EQ(apic.timer_expiries(), 1u);
  EXPECT_EQ(apic.read(kCurrent, 1505), 500u);
  apic.advance(5500);  // missed 2005, 3005, 4005, 5005: one interrupt, four expiries
  EXPECT_EQ(apic.timer_expiries(), 5u);
  EXPECT_EQ(apic.next_deadline(), 6005u);
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x30);
  EXPECT_FALSE(apic.has_pending_interrupt());
}

TEST(LocalApic, DivideEncodings) {
  const std::pair<uint32_t, uint64_t> table[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
                                                 {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};
  for (auto [code, divide] : table) {
    LocalApic apic = enabled_apic();
    apic.write(kDivide, code, 0);
    apic.write(kLvtTimer, kPeriodic | 0x30, 0);
    apic.write(kInitial, 7, 0);
    EXPECT_EQ(apic.read(kDivide, 0), code);
    EXPECT_EQ(apic.next_deadline(), 7 * divide) << "code " << code;
    apic.advance(7 * divide);
    EXPECT_EQ(apic.next_deadline(), 14 * divide) << "code " << code;
  }
}

TEST(LocalApic, DivideChangeKeepsCount) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xb, 0);
  apic.write(kLvtTimer, 0x30, 0);
  apic.write(kInitial, 100, 0);
  apic.write(kDivide, 0x0, 40);  // 60 counts left, now at 2 bus cycles each
  EXPECT_EQ(apic.read(kCurrent, 40), 60u);
  EXPECT_EQ(apic.next_deadline(), 160u);
}

TEST(LocalApic, ZeroInitialCountStopsTimer) {
  LocalApic apic = enabled_apic();
  apic.write(kLvtTimer, kPeriodic | 0x30, 0);
  apic.write(kInitial, 50, 0);
  apic.write(kInitial, 0, 10);
  EXPECT_FALSE(apic.next_deadline());
  EXPECT_EQ(apic.read(kCurrent, 20), 0u);
}

TEST(LocalApic, MaskedTimerCountsButDoesNotInterrupt) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xb, 0);
  apic.write(kLvtTimer, kMasked | kPeriodic | 0x30, 0);
  apic.write(kInitial, 10, 0);
  apic.advance(35);
  EXPECT_EQ(apic.timer_expiries(), 3u);
  EXPECT_EQ(apic.next_deadline(), 40u);
  EXPECT_FALSE(apic.has_pending_interrupt());
  apic.write(kLvtTimer, kPeriodic | 0x30, 36);  // unmasking does not deliver missed ticks
  EXPECT_FALSE(apic.has_pending_interrupt());
  apic.advance(40);
  EXPECT_TRUE(apic.has_pending_interrupt());
}

TEST(LocalApic, EoiRetiresHighestInServiceFirst) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xb, 0);
  apic.write(kLvtTimer, 0x31, 0);  // one-shot at 0x31
  apic.write(kInitial, 1, 0);
  apic.advance(1);
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x31);
  // Same priority class as the one in service: held until EOI (SDM 11.8.3.1).
  apic.write(kInitial, 1, 1);
  apic.advance(2);
  EXPECT_FALSE(apic.has_pending_interrupt());
  // A higher class nests.
  apic.write(kLvtTimer, 0x50, 2);
  apic.write(kInitial, 1, 2);
  apic.advance(3);
  ASSERT_TRUE(apic.has_pending_interrupt());
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x50);
  EXPECT_EQ(apic.read(kIsr + 0x10, 3), 1u << 0x11);
  EXPECT_EQ(apic.read(kIsr + 0x20, 3), 1u << 0x10);
  apic.write(kEoi, 0, 3);  // retires 0x50
  EXPECT_EQ(apic.read(kIsr + 0x20, 3), 0u);
  EXPECT_EQ(apic.read(kIsr + 0x10, 3), 1u << 0x11);
  EXPECT_FALSE(apic.has_pending_interrupt());  // 0x31 still in service
  apic.write(kEoi, 0, 3);                      // retires 0x31
  ASSERT_TRUE(apic.has_pending_interrupt());
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x31);
  apic.write(kEoi, 0, 3);
  apic.write(kEoi, 0, 3);  // EOI with nothing in service is harmless
  EXPECT_FALSE(apic.has_pending_interrupt());
}

TEST(LocalApic, SoftwareDisabledDeliversNothing) {
  LocalApic apic;
  apic.write(kDivide, 0xb, 0);
  apic.write(kLvtTimer, 0x30, 0);  // the mask stays forced while disabled
  EXPECT_EQ(apic.read(kLvtTimer, 0), kMasked | 0x30);
  apic.write(kInitial, 5, 0);
  apic.advance(5);
  EXPECT_EQ(apic.timer_expiries(), 1u);
  EXPECT_FALSE(apic.has_pending_interrupt());

  LocalApic live = enabled_apic();
  live.write(kLvtTimer, 0x30, 0);
  live.write(kInitial, 5, 0);
  live.advance(10);
  EXPECT_TRUE(live.has_pending_interrupt());
  live.write(kSvr, 0xff, 10);  // disable: IRR is held but not delivered, LVTs masked
  EXPECT_FALSE(live.has_pending_interrupt());
  EXPECT_EQ(live.read(kLvtTimer, 10), kMasked | 0x30);
}

TEST(LocalApic, IllegalVectorNeverDelivers) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xb, 0);
  apic.write(kLvtTimer, 0x05, 0);
  apic.write(kInitial, 1, 0);
  apic.advance(1);
  EXPECT_FALSE(apic.has_pending_interrupt());
  EXPECT_EQ(apic.acknowledge_interrupt(), 0xff);  // spurious vector
}

TEST(LocalApic, BadAccessesAreHarmless) {
  LocalApic apic = enabled_apic();
  const uint64_t bad[] = {0x321,  0x322,  0x324,        0x328, 0x38c, 0xfff,
                          0x1000, 0x2000, ~uint64_t{0}, 0x390, 0x30};
  for (uint64_t offset : bad) apic.write(offset, 0xffffffff, 0);
  for (uint64_t offset = 0; offset < 0x1100; ++offset) {
    if (offset % 16 == 0 && offset < LocalApic::kSize) continue;
    EXPECT_EQ(apic.read(offset, 0), 0u) << offset;
  }
  EXPECT_EQ(apic.read(~uint64_t{0} - 15, 0), 0u);
  EXPECT_EQ(apic.read(kLvtTimer, 0), kMasked);
  EXPECT_EQ(apic.read(kCurrent, 0), 0u);
  EXPECT_EQ(apic.read(0x30, 0), 0x00050014u);
  EXPECT_FALSE(apic.next_deadline());
}

TEST(LocalApic, ExtremeTimesSaturate) {
  LocalApic apic = enabled_apic();
  apic.write(kDivide, 0xa, 0);  // divide by 128
  apic.write(kLvtTimer, kPeriodic | 0x30, 0);
  const uint64_t late = ~uint64_t{0} - 100;
  apic.write(kInitial, 0xffffffff, late);
  EXPECT_EQ(apic.next_deadline(), ~uint64_t{0});
  apic.advance(~uint64_t{0});
  EXPECT_EQ(apic.timer_expiries(), 1u);
  EXPECT_EQ(apic.next_deadline(), ~uint64_t{0});
}

// TSC-deadline mode (SDM 11.5.4.1): the count registers are ignored, the deadline fires
// once, and changing the timer mode disarms it.
TEST(LocalApic, TscDeadlineMode) {
  LocalApic apic = enabled_apic();
  apic.set_tsc_deadline(500, 0);
  EXPECT_FALSE(apic.next_deadline()) << "not in TSC-deadline mode: ignored";
  apic.write(kLvtTimer, (2u << 17) | 0xec, 0);
  EXPECT_TRUE(apic.tsc_deadline_mode());
  apic.write(kInitial, 1000, 0);
  EXPECT_FALSE(apic.next_deadline()) << "initial count is ignored";
  apic.set_tsc_deadline(500, 10);
  EXPECT_EQ(apic.tsc_deadline(), 500u);
  apic.advance(499);
  EXPECT_FALSE(apic.has_pending_interrupt());
  apic.advance(500);
  EXPECT_TRUE(apic.has_pending_interrupt());
  EXPECT_FALSE(apic.tsc_deadline()) << "fired: reads 0";
  EXPECT_EQ(apic.acknowledge_interrupt(), 0xec);
  apic.set_tsc_deadline(900, 600);
  apic.write(kLvtTimer, 0xec, 700);  // back to one-shot
  EXPECT_FALSE(apic.next_deadline()) << "a mode change disarms";
}

TEST(LocalApic, LevelInterruptsBroadcastTheirEoiToTheIoApic) {
  LocalApic apic = enabled_apic();
  IoApic io(apic);
  apic.set_eoi_listener(&io);
  // Pin 5 level-triggered, vector 0x41.
  io.write(0x00, 4, 0x1a);
  io.write(0x10, 4, 0x41 | (1u << 15));
  io.set_line(5, true);
  EXPECT_EQ(apic.read(0x180 + 0x20, 0), 2u) << "TMR bit 0x41";
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x41);
  io.set_line(5, false);
  EXPECT_TRUE(io.entry(5) & (1u << 14)) << "Remote IRR until the EOI";
  apic.write(kEoi, 0, 0);
  EXPECT_FALSE(io.entry(5) & (1u << 14));
}

TEST(LocalApic, SelfIpiThroughIcr) {
  LocalApic apic = enabled_apic();
  apic.write(0x300, (1u << 18) | 0x55, 0);  // shorthand self, fixed, vector 0x55
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x55);
  apic.write(0x310, 0u << 24, 0);
  apic.write(0x300, 0x56, 0);  // destination 0 = us
  EXPECT_EQ(apic.acknowledge_interrupt(), 0x56);
  apic.write(0x310, 3u << 24, 0);
  apic.write(0x300, 0x57, 0);  // another CPU: there is none
  apic.write(0x300, (3u << 18) | 0x58, 0);  // all excluding self
  apic.write(0x300, (5u << 8) | (1u << 18) | 0x59, 0);  // INIT: not modelled
  EXPECT_FALSE(apic.has_pending_interrupt());
}

}  // namespace
}  // namespace densevm
