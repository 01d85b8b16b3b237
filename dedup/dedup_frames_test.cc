#include "dedup/dedup_frames.h"

#include <gtest/gtest.h>

#include <cstring>

namespace densevm {
namespace {

TEST(DedupFrames, FindsByFingerprintButAnswersOnlyForEqualBytes) {
  FrameStore frames(uint64_t{1} << 28);
  const Hpa f = *frames.allocate();
  std::memset(frames.host_ptr(f), 0xab, kPageSize);
  uint8_t same[kPageSize], other[kPageSize];
  std::memset(same, 0xab, kPageSize);
  std::memset(other, 0xcd, kPageSize);
  uint64_t collisions = 0;
  {
    DedupFrames owned(frames);
    owned.adopt(3, 99, f);
    EXPECT_EQ(frames.refcount(f), 2u) << "the service holds its own reference";
    EXPECT_EQ(owned.find(3, 99, same, &collisions), f);
    EXPECT_EQ(owned.find(3, 99, other, &collisions), std::nullopt);
    EXPECT_EQ(collisions, 1u);
    EXPECT_EQ(owned.find(2, 99, same, &collisions), std::nullopt) << "another group";
    EXPECT_EQ(owned.group_of(f), 3u);
    EXPECT_EQ(owned.prune(), 0u) << "a guest still maps it";
  }
  EXPECT_EQ(frames.refcount(f), 1u) << "destruction drops only the service's reference";
  frames.release(f);
}

TEST(DedupFrames, PruneGivesBackFramesNoGuestMaps) {
  FrameStore frames(uint64_t{1} << 28);
  DedupFrames owned(frames);
  const Hpa f = *frames.allocate();
  owned.adopt(0, 1, f);
  frames.release(f);  // the last guest mapping goes away
  EXPECT_EQ(owned.prune(), 1u);
  EXPECT_EQ(frames.refcount(f), 0u);
  EXPECT_EQ(owned.content_frames(), 0u);
  uint64_t collisions = 0;
  EXPECT_EQ(owned.find(0, 1, frames.host_ptr(f), &collisions), std::nullopt);
}

TEST(DedupFrames, TheZeroFrameIsOneZeroedFrame) {
  FrameStore frames(uint64_t{1} << 28);
  DedupFrames owned(frames);
  const std::optional<Hpa> zero = owned.zero_frame();
  ASSERT_TRUE(zero);
  EXPECT_EQ(owned.zero_frame(), zero);
  EXPECT_TRUE(owned.is_zero_frame(*zero));
  EXPECT_EQ(frames.host_ptr(*zero)[kPageSize - 1], 0);
  EXPECT_EQ(owned.group_of(*zero), std::nullopt);
}

}  // namespace
}  // namespace densevm
