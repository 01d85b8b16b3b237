#include "dedup/scan_windows.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

TEST(ScanWindows, CountsTheMappedPagesOfAPartOfAWindow) {
  ScanWindows::Window w;
  for (const unsigned page : {3u, 64u, 65u, 200u, 511u}) ScanWindows::set_mapped(w, page);
  unsigned last = 0;
  EXPECT_EQ(ScanWindows::count_mapped(w, 0, 512, 100, &last), 5u);
  EXPECT_EQ(last, 511u);
  EXPECT_EQ(ScanWindows::count_mapped(w, 4, 200, 100, &last), 2u);
  EXPECT_EQ(last, 65u);
  EXPECT_EQ(ScanWindows::count_mapped(w, 0, 512, 3, &last), 3u) << "at most want";
  EXPECT_EQ(last, 65u) << "the third";
  last = 7;
  EXPECT_EQ(ScanWindows::count_mapped(w, 66, 200, 10, &last), 0u);
  EXPECT_EQ(last, 7u);
  ScanWindows::clear_mapped(w, 64, 201);
  EXPECT_EQ(ScanWindows::count_mapped(w, 0, 512, 100, &last), 2u);
  EXPECT_EQ(last, 511u);
}

TEST(ScanWindows, EveryRamWindowHasItsOwn) {
  FrameStore frames(uint64_t{64} << 20);
  GuestMemory memory(frames, uint64_t{3} << 30 | uint64_t{3} << 20);  // 3 MiB above 4 GiB
  ScanWindows windows(memory);
  ScanWindows::Window& low = windows.at(Gpa{0x1000});
  ScanWindows::Window& high = windows.at(Gpa{GuestMemory::kHighRamBase + 0x201000});
  EXPECT_NE(&low, &high);
  EXPECT_EQ(&high, &windows.at(Gpa{GuestMemory::kHighRamBase + 0x3ff000}));
  EXPECT_NE(&high, &windows.at(Gpa{GuestMemory::kHighRamBase}));
  high.walk = false;
  windows.walk_all();
  EXPECT_TRUE(high.walk);
}

}  // namespace
}  // namespace densevm
