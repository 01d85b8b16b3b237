#include "mmu/guest_memory.h"

#include <gtest/gtest.h>

#include <cstring>

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

TEST(GuestMemory, RamLayoutSkipsTheMmioWindow) {
  FrameStore frames(uint64_t{1} << 33);
  GuestMemory mem(frames, uint64_t{4} << 30);
  ASSERT_EQ(mem.ram_ranges().size(), 2u);
  EXPECT_EQ(mem.ram_ranges()[0].size, GuestMemory::kLowRamLimit);
  EXPECT_EQ(mem.ram_ranges()[1].begin, Gpa{GuestMemory::kHighRamBase});
  EXPECT_EQ(mem.ram_ranges()[1].size, uint64_t{1} << 30);
  EXPECT_TRUE(mem.is_ram(Gpa{0xbfffffff}));
  EXPECT_FALSE(mem.is_ram(Gpa{0xfee00000}));
  EXPECT_TRUE(mem.is_ram(Gpa{GuestMemory::kHighRamBase}));
}

TEST(GuestMemory, ReadsOfUntouchedRamTakeNoFrame) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 64 * kMiB);
  uint64_t v = 1;
  ASSERT_TRUE(mem.read(Gpa{0x123450}, &v, 8));
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(mem.resident_pages(), 0u);
  ASSERT_TRUE(mem.write(Gpa{0x123450}, "abcdefgh", 8));
  ASSERT_TRUE(mem.read(Gpa{0x123450}, &v, 8));
  EXPECT_EQ(std::memcmp(&v, "abcdefgh", 8), 0);
  EXPECT_EQ(mem.resident_pages(), 1u);
  EXPECT_FALSE(mem.write(Gpa{64 * kMiB - 4}, "abcdefgh", 8)) << "crosses the end of RAM";
}

TEST(GuestMemory, CopyOnWriteBreaksASharedFrame) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory a(frames, 16 * kMiB), b(frames, 16 * kMiB);
  ASSERT_TRUE(a.write(Gpa{0x5000}, "shared!", 8));
  // Share a's frame with b read-only, as a merge would.
  const Hpa frame = a.p2m().inspect(Gpa{0x5000})->hpa;
  frames.retain(frame);
  ASSERT_EQ(b.p2m().map(Gpa{0x9000}, frame, kEptRead | kEptExec), P2mStatus::kOk);
  ASSERT_EQ(a.p2m().protect(Gpa{0x5000}, Gpa{0x6000}, kEptRead | kEptExec), P2mStatus::kOk);
  EXPECT_EQ(frames.refcount(frame), 2u);

  ASSERT_TRUE(b.write(Gpa{0x9000}, "private", 8));
  EXPECT_EQ(b.cow_breaks(), 1u);
  EXPECT_EQ(frames.refcount(frame), 1u);
  char buf[8];
  ASSERT_TRUE(a.read(Gpa{0x5000}, buf, 8));
  EXPECT_STREQ(buf, "shared!") << "the other VM keeps the shared content";
  ASSERT_TRUE(b.read(Gpa{0x9000}, buf, 8));
  EXPECT_STREQ(buf, "private");

  // a is now the only holder: its break just restores write access, no copy.
  const uint64_t resident = frames.stats().frames_resident;
  ASSERT_TRUE(a.write(Gpa{0x5000}, "mine!!!", 8));
  EXPECT_EQ(a.cow_breaks(), 1u);
  EXPECT_EQ(a.p2m().inspect(Gpa{0x5000})->hpa, frame);
  EXPECT_EQ(frames.stats().frames_resident, resident);
}

}  // namespace
}  // namespace densevm
