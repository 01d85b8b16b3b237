#include "mmu/guest_memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

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

// huge_frames: pages get frames of the VM's own 2 MiB chunks in first-touch order, whatever
// their addresses; the P2M's tables stay 4 KiB frames; the chunk is closed with the VM.
TEST(GuestMemory, HugeFramesFillAChunkInFirstTouchOrder) {
  FrameStore frames(256 * kMiB);
  std::vector<Hpa> got;
  {
    GuestMemory mem(frames, 64 * kMiB, 0, /*huge_frames=*/true);
    EXPECT_TRUE(mem.huge_frames());
    for (uint64_t k = 0; k < 100; ++k) {
      const uint8_t byte = static_cast<uint8_t>(k + 1);
      const Gpa page{(k * 37 % 16384) * kPageSize};
      ASSERT_TRUE(mem.write(page, &byte, 1));
      got.push_back(mem.mapping(page)->hpa);
    }
    for (uint64_t k = 1; k < got.size(); ++k) EXPECT_EQ(got[k].page_number(), got[0].page_number() + k);
    EXPECT_EQ(got[0].page_number() % FrameStore::kChunkFrames, 0u);
    EXPECT_EQ(frames.stats().huge_frames, 100u);
    EXPECT_EQ(frames.stats().huge_chunks, 1u);
    EXPECT_LT(frames.stats().allocations, 100u + 16) << "tables are 4 KiB frames, a few";
    // A page first read gets a 4 KiB frame: the host's zero page backs it, not a huge page.
    ASSERT_EQ(mem.populate(Gpa{60 * kMiB}, /*write=*/false), GuestMemory::Populate::kMapped);
    EXPECT_EQ(frames.stats().huge_frames, 100u);
    EXPECT_NE(mem.mapping(Gpa{60 * kMiB})->hpa.page_number() / FrameStore::kChunkFrames,
              got[0].page_number() / FrameStore::kChunkFrames);
  }
  frames.flush_released();
  EXPECT_EQ(frames.stats().frames_resident, 0u);
  EXPECT_EQ(frames.stats().huge_chunks_freed, 1u) << "the VM gone, its chunk went back whole";
  EXPECT_EQ(frames.stats().huge_chunks_split, 0u);
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
  const Hpa frame = a.mapping(Gpa{0x5000})->hpa;
  frames.retain(frame);
  ASSERT_TRUE(b.share(Gpa{0x9000}, frame));
  ASSERT_TRUE(a.share_in_place(Gpa{0x5000}));
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
  EXPECT_EQ(a.mapping(Gpa{0x5000})->hpa, frame);
  EXPECT_EQ(frames.stats().frames_resident, resident);
}

// What checkpoints and the balloon policy ask of guest memory, without its P2M.
TEST(GuestMemory, WriteProtectAllMakesEveryPageCopyOnWriteAndDropAllTakesEveryFrame) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  for (uint64_t p = 0; p < 8; ++p) ASSERT_TRUE(mem.write(Gpa::from_page(p), "page", 4));
  mem.write_protect_all();
  for (uint64_t p = 0; p < 8; ++p) {
    EXPECT_EQ(mem.mapping(Gpa::from_page(p))->effective_perms, kEptRx) << p;
    EXPECT_EQ(mem.mapping(Gpa::from_page(p))->perms, kEptRwx) << "one entry above did it";
  }
  ASSERT_TRUE(mem.write(Gpa::from_page(3), "new!", 4));
  EXPECT_EQ(mem.cow_breaks(), 1u);
  EXPECT_EQ(mem.mapping(Gpa::from_page(3))->effective_perms, kEptRwx);
  EXPECT_EQ(mem.mapping(Gpa::from_page(4))->effective_perms, kEptRx) << "only the page written";

  EXPECT_EQ(mem.drop_all(), 8u);
  EXPECT_EQ(mem.resident_pages(), 0u);
  EXPECT_FALSE(mem.drop(Gpa::from_page(3)).has_value());
}

// Idle-memory sampling reads and clears the EPT accessed bit of a page.
TEST(GuestMemory, AccessedBitsAreSetByLookupsAndClearedBySampling) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  ASSERT_EQ(mem.populate(Gpa{0x7000}), GuestMemory::Populate::kMapped);
  EXPECT_FALSE(mem.test_and_clear_accessed(Gpa{0x7000})) << "populated, not accessed";
  ASSERT_TRUE(std::holds_alternative<EptHit>(mem.lookup(Gpa{0x7008}, Access::kRead)));
  EXPECT_TRUE(mem.test_and_clear_accessed(Gpa{0x7000}));
  EXPECT_FALSE(mem.test_and_clear_accessed(Gpa{0x7000}));
}

}  // namespace
// A VM's frames come from its pool (its home NUMA node's): first touches and the private
// copy a copy-on-write break makes, even of a frame shared from another pool. The P2M's own
// table frames come from there too: the hardware's walks of them are the VM's accesses.
TEST(GuestMemory, NewFramesComeFromTheVmsPool) {
  FrameStore frames({{.capacity_bytes = 64 * kMiB, .fallback = {1}}, {.capacity_bytes = 64 * kMiB, .fallback = {0}}});
  GuestMemory near(frames, 16 * kMiB, /*pool=*/1), far(frames, 16 * kMiB);
  EXPECT_EQ(near.frame_pool(), 1u);
  for (uint64_t page = 0; page < 64; ++page) ASSERT_TRUE(near.write(Gpa{page * kPageSize}, "x", 1));
  ASSERT_TRUE(far.write(Gpa{0x5000}, "shared!", 8));
  near.for_each_mapping([&](Gpa, Hpa hpa, EptPerms) { EXPECT_EQ(frames.pool_of(hpa), 1u); });
  const Hpa theirs = far.mapping(Gpa{0x5000})->hpa;
  EXPECT_EQ(frames.pool_of(theirs), 0u);
  frames.retain(theirs);
  ASSERT_TRUE(near.share(Gpa{0x9000}, theirs));
  ASSERT_TRUE(near.write(Gpa{0x9000}, "mine", 4));
  EXPECT_EQ(frames.pool_of(near.mapping(Gpa{0x9000})->hpa), 1u) << "the private copy is made in the VM's pool";
  EXPECT_EQ(frames.pool_stats(1).fallbacks, 0u);
  EXPECT_EQ(frames.pool_of(near.p2m_for_testing().root()), 1u);
  EXPECT_GT(near.ept_stats().table_frames, 1u);
  EXPECT_EQ(frames.pool_stats(1).frames_resident, near.resident_pages() + near.ept_stats().table_frames)
      << "every frame in pool 1 is near's: its pages and its P2M's tables";
}

}  // namespace densevm
