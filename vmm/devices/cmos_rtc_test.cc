#include "vmm/devices/cmos_rtc.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

constexpr uint64_t kSecond = CmosRtc::kTicksPerSecond;

uint8_t reg(CmosRtc& rtc, uint8_t index, uint64_t now) {
  rtc.write(0x70, index, now);
  return rtc.read(0x71, now);
}

void set(CmosRtc& rtc, uint8_t index, uint8_t value, uint64_t now) {
  rtc.write(0x70, index, now);
  rtc.write(0x71, value, now);
}

TEST(CmosRtc, ReadsTheEpochPlusVirtualTimeInBcd) {
  CmosRtc rtc;  // 2025-01-01 00:00:00 UTC, a Wednesday
  const uint64_t now = (13 * 3600 + 45 * 60 + 7) * kSecond + 5;
  EXPECT_EQ(reg(rtc, 0x00, now), 0x07);
  EXPECT_EQ(reg(rtc, 0x02, now), 0x45);
  EXPECT_EQ(reg(rtc, 0x04, now), 0x13);
  EXPECT_EQ(reg(rtc, 0x06, now), 4) << "Wednesday, Sunday = 1";
  EXPECT_EQ(reg(rtc, 0x07, now), 0x01);
  EXPECT_EQ(reg(rtc, 0x08, now), 0x01);
  EXPECT_EQ(reg(rtc, 0x09, now), 0x25);
  EXPECT_EQ(reg(rtc, 0x32, now), 0x20) << "century";
  EXPECT_EQ(reg(rtc, 0x0d, now), 0x80) << "valid RAM and time";
  EXPECT_EQ(rtc.read(0x70, now), 0xff) << "the index port is write-only";
}

TEST(CmosRtc, BinaryAndTwelveHourModes) {
  CmosRtc rtc;
  const uint64_t now = (15 * 3600 + 9 * 60) * kSecond;
  set(rtc, 0x0b, 0x04, now);  // binary, 12-hour
  EXPECT_EQ(reg(rtc, 0x02, now), 9);
  EXPECT_EQ(reg(rtc, 0x04, now), 0x80 | 3) << "3 PM";
  EXPECT_EQ(reg(rtc, 0x0b, now), 0x04);
}

TEST(CmosRtc, UpdateInProgressOnlyJustBeforeEachTick) {
  CmosRtc rtc;
  EXPECT_EQ(reg(rtc, 0x0a, 0) & 0x80, 0);
  EXPECT_EQ(reg(rtc, 0x0a, kSecond - 244'001) & 0x80, 0);
  EXPECT_EQ(reg(rtc, 0x0a, kSecond - 244'000) & 0x80, 0x80);
  EXPECT_EQ(reg(rtc, 0x0a, kSecond - 1) & 0x80, 0x80);
  EXPECT_EQ(reg(rtc, 0x0a, kSecond) & 0x80, 0);
  EXPECT_EQ(reg(rtc, 0x0a, 0) & 0x7f, 0x26) << "divider and rate as firmware leaves them";
}

TEST(CmosRtc, GuestWritesSetTheClockWhichThenKeepsTicking) {
  CmosRtc rtc;
  set(rtc, 0x09, 0x30, 0);  // year 2030
  set(rtc, 0x08, 0x06, 0);  // June
  set(rtc, 0x07, 0x15, 0);  // 15th
  set(rtc, 0x04, 0x23, 0);  // 23:59:58
  set(rtc, 0x02, 0x59, 0);
  set(rtc, 0x00, 0x58, 0);
  EXPECT_EQ(rtc.unix_time(0), 1907798398);  // 2030-06-15T23:59:58Z
  const uint64_t later = 3 * kSecond;
  EXPECT_EQ(reg(rtc, 0x07, later), 0x16);
  EXPECT_EQ(reg(rtc, 0x00, later), 0x01);
  set(rtc, 0x08, 0x13, later);  // month 13: not a date, ignored
  EXPECT_EQ(reg(rtc, 0x08, later), 0x06);
}

TEST(CmosRtc, RamBytesAndSaveRestore) {
  CmosRtc a;
  set(a, 0x40, 0x5a, 0);
  set(a, 0x00, 0x30, 0);
  StateWriter w;
  write_record(w, a.save());
  CmosRtc b(0);
  StateReader r(w.bytes());
  b.restore(read_record<RtcState>(r));
  r.expect_end("rtc");
  EXPECT_EQ(reg(b, 0x40, 10 * kSecond), 0x5a);
  EXPECT_EQ(reg(b, 0x00, 10 * kSecond), 0x40) << "30 s set + 10 s of virtual time";
  EXPECT_EQ(b.unix_time(0), a.unix_time(0));
}

}  // namespace
}  // namespace densevm
