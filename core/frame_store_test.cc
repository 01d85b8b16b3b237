#include "core/frame_store.h"

#include <gtest/gtest.h>

#include <cstdio>
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

// A counter of /proc/vmstat (system-wide), 0 if absent.
uint64_t vmstat(const std::string& name) {
  std::ifstream in("/proc/vmstat");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == name) return value;
  }
  return 0;
}

// AnonHugePages, in bytes, of the mapping of this process that contains p.
uint64_t anon_huge_bytes_at(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  const auto at = reinterpret_cast<uintptr_t>(p);
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0;
    uintptr_t end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {  // a mapping's first line
      inside = at >= begin && at < end;
      continue;
    }
    if (inside && line.rfind("AnonHugePages:", 0) == 0) return std::stoull(line.substr(14)) * 1024;
  }
  return 0;
}

constexpr uint64_t kChunk = FrameStore::kChunkFrames;

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

TEST(FrameStore, HugeCursorHandsOutConsecutiveFramesOfAlignedChunksFromThePoolsTop) {
  FrameStore frames(64 * kMiB);
  FrameStore::HugeCursor cursor{.pool = 0};
  std::vector<Hpa> got;
  for (uint64_t i = 0; i < kChunk + 10; ++i) {
    const std::optional<Hpa> hpa = frames.allocate(cursor);
    ASSERT_TRUE(hpa);
    EXPECT_EQ(frames.refcount(*hpa), 1u);
    EXPECT_EQ(frames.host_ptr(*hpa)[i % kPageSize], 0);
    got.push_back(*hpa);
  }
  // The first chunk is the pool's last whole 2 MiB, in order; the second the one below it.
  EXPECT_EQ(got[0].page_number(), frames.capacity_frames() - kChunk);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(frames.host_ptr(got[0])) % (kChunk * kPageSize), 0u);
  for (uint64_t i = 1; i < kChunk; ++i) EXPECT_EQ(got[i].page_number(), got[0].page_number() + i);
  EXPECT_EQ(got[kChunk].page_number(), frames.capacity_frames() - 2 * kChunk);
  // 4 KiB frames still come from the bottom.
  EXPECT_EQ(frames.allocate()->page_number(), 1u);
  const FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.huge_chunks, 2u);
  EXPECT_EQ(s.huge_frames, kChunk + 10);
  EXPECT_EQ(s.allocations, kChunk + 11);
  EXPECT_EQ(s.frames_resident, kChunk + 11);
  EXPECT_EQ(s.huge_fallbacks, 0u);
}

TEST(FrameStore, WholeChunkGoesBackInOneCallAndIsReopenedZeroed) {
  FrameStore frames(16 * kMiB);
  FrameStore::HugeCursor cursor{.pool = 0};
  std::vector<Hpa> got;
  for (uint64_t i = 0; i < kChunk; ++i) got.push_back(*frames.allocate(cursor));
  for (Hpa hpa : got) std::memset(frames.host_ptr(hpa), 0x77, kPageSize);
  frames.close(cursor);
  const uint64_t calls_before = frames.stats().madvise_calls;
  for (Hpa hpa : got) frames.release(hpa);  // the 512th release gives the batch back
  FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.huge_chunks_freed, 1u);
  EXPECT_EQ(s.huge_chunks_split, 0u);
  EXPECT_EQ(s.madvise_calls, calls_before + 1);
  EXPECT_EQ(s.frames_returned, kChunk);
  EXPECT_EQ(s.frames_pending, 0u);
  // The next cursor reopens the same chunk, from its first frame, zeroed by the kernel.
  FrameStore::HugeCursor next{.pool = 0};
  const Hpa again = *frames.allocate(next);
  EXPECT_EQ(again, got[0]);
  EXPECT_EQ(frames.host_ptr(again)[123], 0);
  EXPECT_EQ(frames.stats().huge_chunks, 2u);
}

TEST(FrameStore, ClosedChunksRestGoesToTheNextCursor) {
  FrameStore frames(16 * kMiB);
  FrameStore::HugeCursor a{.pool = 0};
  const Hpa first = *frames.allocate(a);
  for (int i = 0; i < 9; ++i) (void)frames.allocate(a);
  frames.close(a);
  FrameStore::HugeCursor b{.pool = 0};
  EXPECT_EQ(frames.allocate(b)->page_number(), first.page_number() + 10);
  EXPECT_EQ(frames.stats().huge_chunks, 2u);  // opened twice, the same chunk
}

TEST(FrameStore, BatchKeepsFramesOfChunksInUseFlushSplitsAndGivesThemBack) {
  FrameStore frames(64 * kMiB);
  FrameStore::HugeCursor cursor{.pool = 0};
  constexpr uint64_t kChunks = 8;
  std::vector<Hpa> got;
  for (uint64_t i = 0; i < kChunks * kChunk; ++i) {
    got.push_back(*frames.allocate(cursor));
    std::memset(frames.host_ptr(got.back()), 0x5A, kPageSize);
  }
  const bool host_made_huge_pages = anon_huge_bytes_at(frames.host_ptr(got[0])) > 0;
  const uint64_t splits_before = vmstat("thp_split_page");
  const uint64_t rss_touched = rss_bytes();
  // A balloon takes every other frame: more than a batch, but each chunk keeps live frames,
  // so the batch leaves them pending (resident, reused first) rather than splitting.
  std::vector<Hpa> kept;
  for (uint64_t i = 0; i < got.size(); ++i) {
    if (i % 2 == 0) {
      frames.release(got[i]);
    } else {
      kept.push_back(got[i]);
    }
  }
  EXPECT_EQ(frames.stats().frames_pending, got.size() / 2);
  EXPECT_EQ(frames.stats().huge_chunks_split, 0u);
  frames.flush_released();
  const FrameStoreStats s = frames.stats();
  EXPECT_EQ(s.huge_chunks_split, kChunks);
  EXPECT_EQ(s.frames_pending, 0u);
  EXPECT_EQ(s.frames_returned, got.size() / 2);
  const uint64_t released_bytes = got.size() / 2 * kPageSize;
  EXPECT_LE(rss_bytes() + released_bytes * 9 / 10, rss_touched);
  if (host_made_huge_pages) {
    // The huge pages were split for real, not just unmapped (their 2 MiB would otherwise stay
    // allocated until the kernel's deferred split runs under memory pressure).
    EXPECT_EQ(anon_huge_bytes_at(frames.host_ptr(kept[0])), 0u);
    EXPECT_GE(vmstat("thp_split_page"), splits_before + kChunks);
  }
  // What was kept is intact; what went back is handed out zeroed, as 4 KiB frames now.
  for (Hpa hpa : kept) ASSERT_EQ(frames.host_ptr(hpa)[4000], 0x5A);
  const Hpa reused = *frames.allocate();
  EXPECT_EQ(frames.host_ptr(reused)[17], 0);
  // The split chunks are no longer huge: the cursor opens a fresh chunk below them.
  const Hpa fresh = *frames.allocate(cursor);
  EXPECT_EQ(fresh.page_number(), frames.capacity_frames() - (kChunks + 1) * kChunk);
  for (Hpa hpa : kept) frames.release(hpa);
}

TEST(FrameStore, HugeChunksStayInTheirPoolAndFallBackToFourKWhenNoneIsLeft) {
  // Pool 0: 4 MiB (chunk 0 holds frame 0, so one chunk); pool 1: 3 MiB + 4 KiB (one chunk,
  // and the rest as 4 KiB frames).
  FrameStore frames({{.capacity_bytes = 4 * kMiB, .fallback = {1}},
                     {.capacity_bytes = 3 * kMiB + kPageSize, .fallback = {0}}});
  FrameStore::HugeCursor cursor{.pool = 1};
  std::vector<Hpa> got;
  for (uint64_t i = 0; i < kChunk + 1; ++i) got.push_back(*frames.allocate(cursor));
  for (uint64_t i = 0; i < kChunk; ++i) {
    EXPECT_EQ(frames.pool_of(got[i]), 1u);
    EXPECT_EQ(got[i].page_number() % kChunk, i);
  }
  // Pool 1 has no second chunk: a 4 KiB frame of pool 1, counted.
  EXPECT_EQ(frames.pool_of(got[kChunk]), 1u);
  EXPECT_EQ(frames.stats().huge_chunks, 1u);
  EXPECT_EQ(frames.stats().huge_fallbacks, 1u);
  EXPECT_EQ(frames.pool_stats(1).allocations, kChunk + 1);
}

TEST(FrameStore, FourKFramesTakeOverAFreeChunkWhenNothingElseIsLeft) {
  FrameStore frames(4 * kMiB);  // chunk 0 (frame 0's) and chunk 1
  FrameStore::HugeCursor cursor{.pool = 0};
  std::vector<Hpa> got;
  for (uint64_t i = 0; i < kChunk; ++i) got.push_back(*frames.allocate(cursor));
  frames.close(cursor);
  for (Hpa hpa : got) frames.release(hpa);
  ASSERT_EQ(frames.stats().huge_chunks_freed, 1u);
  // Every frame but frame 0 can be had as a 4 KiB frame, the freed chunk's too.
  std::set<uint64_t> seen;
  for (uint64_t i = 1; i < frames.capacity_frames(); ++i) {
    const std::optional<Hpa> hpa = frames.allocate();
    ASSERT_TRUE(hpa) << "frame " << i;
    EXPECT_EQ(frames.host_ptr(*hpa)[0], 0);
    EXPECT_TRUE(seen.insert(hpa->page_number()).second);
  }
  EXPECT_FALSE(frames.allocate().has_value());
  // A cursor now finds no chunk and no frame.
  EXPECT_FALSE(frames.allocate(cursor).has_value());
  EXPECT_EQ(frames.stats().huge_fallbacks, 1u);
}

}  // namespace
}  // namespace densevm
