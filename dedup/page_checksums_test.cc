#include "dedup/page_checksums.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

TEST(PageChecksums, APageIsStableOnlyWhenItsFingerprintRepeats) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, uint64_t{16} << 20);
  PageChecksums sums(mem);
  EXPECT_FALSE(sums.update(Gpa{0x5000}, 7)) << "never seen";
  EXPECT_TRUE(sums.update(Gpa{0x5000}, 7));
  EXPECT_FALSE(sums.update(Gpa{0x5000}, 8)) << "changed";
  EXPECT_FALSE(sums.update(Gpa{0x6000}, 8)) << "pages are tracked apart";
  EXPECT_FALSE(sums.update(Gpa{uint64_t{16} << 20}, 1)) << "not RAM: never stable";
  EXPECT_FALSE(sums.update(Gpa{uint64_t{16} << 20}, 1));
}

TEST(PageChecksums, APageVisitedWrittenIsStableAtItsNextVisitWhateverItsBytes) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, uint64_t{16} << 20);
  PageChecksums sums(mem);
  sums.note_written(Gpa{0x5000});
  EXPECT_TRUE(sums.update(Gpa{0x5000}, 7)) << "seen, and the caller saw no write since";
  EXPECT_TRUE(sums.update(Gpa{0x5000}, 7));
  EXPECT_FALSE(sums.update(Gpa{0x5000}, 8));
  EXPECT_FALSE(sums.update(Gpa{0x6000}, 1)) << "a fingerprint folding to a mark is still never seen";
  EXPECT_TRUE(sums.update(Gpa{0x6000}, 1));
}

TEST(PageChecksums, RamAboveTheMmioWindowHasItsOwnSlots) {
  FrameStore frames(uint64_t{1} << 33);
  GuestMemory mem(frames, uint64_t{4} << 30);
  PageChecksums sums(mem);
  const Gpa low_top{GuestMemory::kLowRamLimit - kPageSize};
  const Gpa high{GuestMemory::kHighRamBase};
  EXPECT_FALSE(sums.update(low_top, 1));
  EXPECT_FALSE(sums.update(high, 2));
  EXPECT_TRUE(sums.update(low_top, 1));
  EXPECT_TRUE(sums.update(high, 2));
  EXPECT_FALSE(sums.update(Gpa{GuestMemory::kLowRamLimit}, 3)) << "MMIO window";
  EXPECT_FALSE(sums.update(Gpa{GuestMemory::kLowRamLimit}, 3));
}

}  // namespace
}  // namespace densevm
