#include "core/frame_store.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// VmRSS of this process in bytes, from /proc/self/status.
uint64_t rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

TEST(FrameStore, AllocateGivesZeroedDistinctFramesWithRefcountOne) {
  FrameStore frames(16 * kMiB);
  std::set<uint64_t> seen;
  for (int i = 0; i < 100; ++i) {
    std::optional<Hpa> hpa = frames.allocate();
    ASSERT_TRUE(hpa.has_value());
    EXPECT_TRUE(frames.contains(*hpa));
    EXPECT_NE(hpa->page_number(), 0u) << "frame 0 is never handed out";
    EXPECT_EQ(frames.refcount(*hpa), 1u);
    const uint8_t* p = frames.host_ptr(*hpa);
    for (uint64_t b = 0; b < kPageSize; ++b) ASSERT_EQ(p[b], 0);
    EXPECT_TRUE(seen.insert(hpa->value()).second);
  }
}

TEST(FrameStore, HostPointerAndHpaRoundTrip) {
  FrameStore frames(16 * kMiB);
  const Hpa hpa = *frames.allocate();
  uint8_t* p = frames.host_ptr(hpa);
  EXPECT_TRUE(frames.owns(p));
  EXPECT_TRUE(frames.owns(p + kPageSize - 1));
  EXPECT_EQ(frames.hpa_of(p), hpa);
  EXPECT_EQ(frames.hpa_of(p + 123), hpa);
  int on_stack = 0;
  EXPECT_FALSE(frames.owns(&on_stack));
  EXPECT_FALSE(frames.contains(Hpa{0}));
  EXPECT_FALSE(frames.contains(hpa + 8));
  EXPECT_FALSE(frames.contains(Hpa::from_page(frames.capacity_frames())));
  EXPECT_EQ(frames.refcount(Hpa::from_page(frames.capacity_frames())), 0u);
}

TEST(FrameStore, RefcountsAndSharedCounter) {
  FrameStore frames(16 * kMiB);
  const Hpa hpa = *frames.allocate();
  EXPECT_EQ(frames.stats().frames_shared, 0u);
  frames.retain(hpa);
  frames.retain(hpa);
  EXPECT_EQ(frames.refcount(hpa), 3u);
  EXPECT_EQ(frames.stats().frames_shared, 1u);
  frames.release(hpa);
  EXPECT_EQ(frames.stats().frames_shared, 1u);
  frames.release(hpa);
  EXPECT_EQ(frames.refcount(hpa), 1u);
  EXPECT_EQ(frames.stats().frames_shared, 0u);
  EXPECT_EQ(frames.stats().frames_resident, 1u);
  frames.release(hpa);
  EXPECT_EQ(frames.refcount(hpa), 0u);
  EXPECT_EQ(frames.stats().frames_resident, 0u);
  EXPECT_EQ(frames.stats().releases, 1u);
}

TEST(FrameStore, ReusedPendingFrameIsZeroed) {
  FrameStore frames(16 * kMiB);
  const Hpa hpa = *frames.allocate();
  std::memset(frames.host_ptr(hpa), 0xAB, kPageSize);
  frames.release(hpa);
  EXPECT_EQ(frames.stats().frames_pending, 1u);
  const Hpa again = *frames.allocate();
  EXPECT_EQ(again, hpa) << "the most recently released frame is reused first";
  EXPECT_EQ(frames.stats().frames_pending, 0u);
  const uint8_t* p = frames.host_ptr(again);
  for (uint64_t b = 0; b < kPageSize; ++b) ASSERT_EQ(p[b], 0);
}

TEST(FrameStore, FrameGivenBackReadsZeroOnReuse) {
  FrameStore frames(16 * kMiB);
  const Hpa hpa = *frames.allocate();
  std::memset(frames.host_ptr(hpa), 0xCD, kPageSize);
  frames.release(hpa);
  frames.flush_released();
  EXPECT_EQ(frames.stats().frames_pending, 0u);
  EXPECT_EQ(frames.stats().frames_returned, 1u);
  const Hpa again = *frames.allocate();
  EXPECT_EQ(again, hpa);
  const uint8_t* p = frames.host_ptr(again);
  for (uint64_t b = 0; b < kPageSize; ++b) ASSERT_EQ(p[b], 0);
}

TEST(FrameStore, ExhaustionIsAValueAndReleaseMakesRoom) {
  FrameStore frames(8 * kPageSize);  // frame 0 is reserved: 7 usable
  std::vector<Hpa> got;
  while (std::optional<Hpa> hpa = frames.allocate()) got.push_back(*hpa);
  EXPECT_EQ(got.size(), 7u);
  EXPECT_EQ(frames.stats().exhausted, 1u);
  EXPECT_EQ(frames.stats().frames_free, 0u);
  frames.release(got[3]);
  std::optional<Hpa> again = frames.allocate();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(*again, got[3]);
  EXPECT_FALSE(frames.allocate().has_value());
}

TEST(FrameStore, BatchesReleasedFramesAndCoalescesRuns) {
  FrameStore frames(64 * kMiB);
  std::vector<Hpa> got;
  for (size_t i = 0; i < FrameStore::kReleaseBatchFrames; ++i) got.push_back(*frames.allocate());
  // Release in reverse so that the batch has to be sorted to find the contiguous run.
  for (size_t i = got.size(); i-- > 1;) frames.release(got[i]);
  EXPECT_EQ(frames.stats().frames_pending, got.size() - 1);
  EXPECT_EQ(frames.stats().frames_returned, 0u);
  frames.release(got[0]);  // reaches the batch threshold
  const FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.frames_pending, 0u);
  EXPECT_EQ(s.frames_returned, got.size());
  EXPECT_EQ(s.madvise_calls, 1u) << "contiguous frames are given back with one call";
}

TEST(FrameStore, CountersAddUp) {
  FrameStore frames(16 * kMiB);
  std::vector<Hpa> got;
  for (int i = 0; i < 10; ++i) got.push_back(*frames.allocate());
  frames.retain(got[0]);
  for (int i = 5; i < 10; ++i) frames.release(got[static_cast<size_t>(i)]);
  const FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.allocations, 10u);
  EXPECT_EQ(s.releases, 5u);
  EXPECT_EQ(s.frames_resident, 5u);
  EXPECT_EQ(s.frames_shared, 1u);
  EXPECT_EQ(s.frames_pending, 5u);
  EXPECT_EQ(s.frames_free + s.frames_resident + s.frames_pending, s.capacity_frames - 1);
}

TEST(FrameStore, ConcurrentAllocateAndReleaseKeepCountsConsistent) {
  FrameStore frames(64 * kMiB);
  constexpr int kThreads = 4;
  constexpr int kRounds = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&frames] {
      std::vector<Hpa> mine;
      for (int i = 0; i < kRounds; ++i) {
        mine.push_back(*frames.allocate());
        frames.host_ptr(mine.back())[0] = 1;
        if (i % 3 == 2) {
          frames.release(mine.front());
          mine.erase(mine.begin());
        }
      }
      for (Hpa hpa : mine) frames.release(hpa);
    });
  }
  for (std::thread& t : threads) t.join();
  const FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.frames_resident, 0u);
  EXPECT_EQ(s.allocations, uint64_t{kThreads} * kRounds);
  EXPECT_EQ(s.releases, s.allocations);
}

TEST(FrameStore, ReleasedAndFlushedMemoryLeavesRss) {
  constexpr uint64_t kBytes = 64 * kMiB;
  FrameStore frames(1024 * kMiB);
  std::vector<Hpa> got;
  const uint64_t before = rss_bytes();
  for (uint64_t i = 0; i < kBytes / kPageSize; ++i) {
    got.push_back(*frames.allocate());
    std::memset(frames.host_ptr(got.back()), 0x5A, kPageSize);
  }
  const uint64_t touched = rss_bytes();
  ASSERT_GE(touched, before + kBytes * 9 / 10) << "touching the frames made them resident";
  for (Hpa hpa : got) frames.release(hpa);
  frames.flush_released();
  const uint64_t after = rss_bytes();
  EXPECT_LE(after + kBytes * 9 / 10, touched)
      << "RSS touched=" << touched << " after release+flush=" << after;
  EXPECT_EQ(frames.stats().frames_returned, got.size());
}

TEST(FrameStoreDeathTest, ReleasingAFreeFrameAborts) {
  FrameStore frames(16 * kMiB);
  const Hpa hpa = *frames.allocate();
  frames.release(hpa);
  EXPECT_DEATH(frames.release(hpa), "already free");
  EXPECT_DEATH(frames.retain(Hpa{0}), "not a frame");
}

TEST(FrameStore, PoolsHandOutTheirOwnFramesThenFallBackInOrder) {
  // Three pools of 4, 3 and 2 frames; pool 0 loses frame 0 (never handed out).
  FrameStore frames({{.capacity_bytes = 4 * kPageSize, .fallback = {2, 1}},
                     {.capacity_bytes = 3 * kPageSize, .fallback = {0}},
                     {.capacity_bytes = 2 * kPageSize, .fallback = {0}}});
  ASSERT_EQ(frames.pools(), 3u);
  EXPECT_EQ(frames.capacity_frames(), 9u);
  EXPECT_EQ(frames.pool_bytes(1), 3 * kPageSize);
  EXPECT_EQ(frames.pool_base(1), frames.pool_base(0) + 4 * kPageSize);
  std::vector<Hpa> from1;
  for (int i = 0; i < 3; ++i) {
    const std::optional<Hpa> hpa = frames.allocate(1);
    ASSERT_TRUE(hpa);
    EXPECT_EQ(frames.pool_of(*hpa), 1u);
    from1.push_back(*hpa);
  }
  EXPECT_EQ(frames.pool_stats(1).fallbacks, 0u);
  // Pool 1 is full: its next request goes to pool 0, counted against pool 1.
  const std::optional<Hpa> spilled = frames.allocate(1);
  ASSERT_TRUE(spilled);
  EXPECT_EQ(frames.pool_of(*spilled), 0u);
  EXPECT_EQ(frames.pool_stats(1).fallbacks, 1u);
  EXPECT_EQ(frames.pool_stats(0).allocations, 1u);
  EXPECT_EQ(frames.pool_stats(0).frames_resident, 1u);
  // Pool 0 (3 usable frames, one taken) then falls back to 2 before 1.
  for (int i = 0; i < 2; ++i) EXPECT_EQ(frames.pool_of(*frames.allocate(0)), 0u);
  EXPECT_EQ(frames.pool_of(*frames.allocate(0)), 2u);
  EXPECT_EQ(frames.pool_stats(0).fallbacks, 1u);
  // A frame released in pool 1 goes back to pool 1.
  frames.release(from1[0]);
  EXPECT_EQ(frames.pool_stats(1).frames_resident, 2u);
  const std::optional<Hpa> again = frames.allocate(1);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, from1[0]);
  EXPECT_EQ(frames.pool_stats(1).fallbacks, 1u);
  // Everything in use: 2 then 0 hand out their last, then nothing.
  EXPECT_EQ(frames.pool_of(*frames.allocate(2)), 2u);
  EXPECT_FALSE(frames.allocate(2).has_value());
  EXPECT_EQ(frames.stats().exhausted, 1u);
  EXPECT_EQ(frames.stats().frames_resident, 8u);
}

TEST(FrameStore, PooledFramesAreZeroedAfterReuseAndGiveBack) {
  FrameStore frames({{.capacity_bytes = 2 * kPageSize, .fallback = {}},
                     {.capacity_bytes = 2 * kPageSize, .fallback = {}}});
  const Hpa a = *frames.allocate(1);
  std::memset(frames.host_ptr(a), 0xab, kPageSize);
  frames.release(a);
  const Hpa b = *frames.allocate(1);  // the pending frame, zeroed by hand
  EXPECT_EQ(frames.host_ptr(b)[100], 0);
  std::memset(frames.host_ptr(b), 0xcd, kPageSize);
  frames.release(b);
  frames.flush_released();
  const Hpa c = *frames.allocate(1);  // the clean frame, zeroed by the kernel
  EXPECT_EQ(frames.host_ptr(c)[4095], 0);
  EXPECT_EQ(frames.stats().frames_returned, 1u);
}

TEST(FrameStore, RejectsFallbackToAPoolThatDoesNotExist) {
  const std::vector<FramePoolSpec> dangling = {{.capacity_bytes = 4 * kPageSize, .fallback = {1}}};
  EXPECT_THROW(FrameStore{dangling}, std::invalid_argument);
  EXPECT_THROW(FrameStore(std::vector<FramePoolSpec>{}), std::invalid_argument);
}

}  // namespace
}  // namespace densevm
