#include "dedup/scan_rate.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

TEST(ScanRate, OneVirtualSecondEarnsTheRate) {
  ScanRate rate(100'000);
  EXPECT_EQ(rate.earn(ScanRate::kVirtualHz), 100'000u);
  EXPECT_EQ(rate.earn(2'000'000), 200u) << "a 2M-instruction slice";
}

TEST(ScanRate, FractionsCarryOverSoNothingIsLost) {
  ScanRate rate(3);  // one page per 333,333,333.3 instructions
  uint64_t pages = 0;
  for (int i = 0; i < 1000; ++i) pages += rate.earn(1'000'000);
  EXPECT_EQ(pages, 3u) << "1000 x 1M instructions = one virtual second";
}

TEST(ScanRate, MaxIsUnlimited) {
  ScanRate rate(ScanRate::kUnlimited);
  EXPECT_TRUE(rate.unlimited());
  EXPECT_EQ(rate.earn(1), ScanRate::kUnlimitedBudget);
}

TEST(ScanRate, HugeProductsDoNotOverflow) {
  ScanRate rate(uint64_t{1} << 63);
  EXPECT_EQ(rate.earn(uint64_t{1} << 63), ScanRate::kUnlimitedBudget - 1);
}

TEST(ScanRate, BackoffStretchesThePassIntervalUpToSixteenTimes) {
  EXPECT_EQ(ScanRate::cap(4 * 20'000'000, 1000, 4, 1), 500u) << "a pass per 40 ms";
  EXPECT_EQ(ScanRate::cap(4 * 20'000'000, 1000, 4, ScanRate::kMaxBackoff), 63u) << "per 320 ms, rounded up";
  EXPECT_EQ(ScanRate::cap(4 * 20'000'000, 1000, 4, 60), 63u) << "no further than kMaxBackoff";
}

TEST(ScanRate, CapAllowsAPassPerTwentyVirtualMillisecondsOfEachVm) {
  // 4 VMs mapping 1000 pages between them, one 2 ms epoch each: a tenth of a pass.
  EXPECT_EQ(ScanRate::cap(4 * 2'000'000, 1000, 4), 100u);
  EXPECT_EQ(ScanRate::cap(4 * 20'000'000, 1000, 4), 1000u) << "a whole pass per 20 ms";
  EXPECT_EQ(ScanRate::cap(1, 1000, 4), 1u) << "rounded up";
  EXPECT_EQ(ScanRate::cap(0, 1000, 4), 0u);
  EXPECT_EQ(ScanRate::cap(8'000'000, 0, 4), 0u) << "nothing mapped, nothing to visit";
  EXPECT_EQ(ScanRate::cap(8'000'000, 1000, 0), 0u);
  EXPECT_EQ(ScanRate::cap(~uint64_t{0}, ~uint64_t{0}, 1), ScanRate::kUnlimitedBudget - 1) << "128 bits, clamped";
}

}  // namespace
}  // namespace densevm
