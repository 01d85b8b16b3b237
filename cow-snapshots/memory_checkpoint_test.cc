#include "cow-snapshots/memory_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>

namespace densevm::snapshot {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

uint64_t read64(GuestMemory& m, uint64_t gpa) {
  uint64_t v = 0;
  EXPECT_TRUE(m.read(Gpa{gpa}, &v, 8));
  return v;
}

void write64(GuestMemory& m, uint64_t gpa, uint64_t v) { ASSERT_TRUE(m.write(Gpa{gpa}, &v, 8)); }

TEST(MemoryCheckpoint, RollbackRestoresExactlyThePagesChanged) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 64 * kMiB);
  for (uint64_t p = 0; p < 100; ++p) write64(mem, 0x100000 + p * kPageSize, p);
  MemoryCheckpoint cp(mem);
  EXPECT_EQ(cp.pages(), 100u);

  write64(mem, 0x100000 + 3 * kPageSize, 333);  // copy-on-write of a checkpointed page
  write64(mem, 0x100000 + 7 * kPageSize, 777);
  write64(mem, 0x900000, 42);                    // a page first touched after the checkpoint
  EXPECT_EQ(mem.cow_breaks(), 2u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 333u);

  EXPECT_EQ(cp.rollback(), 3u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 3u);
  EXPECT_EQ(read64(mem, 0x100000 + 7 * kPageSize), 7u);
  EXPECT_FALSE(mem.p2m().inspect(Gpa{0x900000})) << "untouched again";
  EXPECT_EQ(mem.resident_pages(), 100u);

  // The checkpoint survives a rollback: the next round starts from the same memory.
  write64(mem, 0x100000 + 3 * kPageSize, 444);
  EXPECT_EQ(cp.rollback(), 1u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 3u);
  EXPECT_EQ(cp.rollback(), 0u) << "nothing changed since the last rollback";
}

TEST(MemoryCheckpoint, DroppingItGivesTheFramesBack) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  for (uint64_t p = 0; p < 10; ++p) write64(mem, p * kPageSize, p);
  const uint64_t resident = frames.stats().frames_resident;
  {
    MemoryCheckpoint cp(mem);
    for (uint64_t p = 0; p < 10; ++p) write64(mem, p * kPageSize, p + 100);
    EXPECT_EQ(frames.stats().frames_resident, resident + 10) << "ten private copies";
  }
  EXPECT_EQ(frames.stats().frames_resident, resident) << "the checkpoint's frames are freed";
  EXPECT_EQ(read64(mem, 5 * kPageSize), 105u);
}

}  // namespace
}  // namespace densevm::snapshot
