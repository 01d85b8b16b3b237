// A pass reads only the 2 MiB windows something touched since their last walk: a window
// whose pages are all settled candidates is skipped, a write anywhere in it has it walked,
// and a parked candidate is found by its twin wherever the twin is. Skipping changes the
// host's work only: the same steps merge the same pages as a scanner walking everything.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "dedup/dedup_scanner.h"
#include "dedup/internal/test_pages.h"

namespace densevm {
namespace {

using namespace dedup_testing;

constexpr uint64_t kWindow = ScanWindows::kWindowBytes;

class DedupSkipTest : public ScannerTest {
 protected:
  struct Work {
    uint64_t walked;
    uint64_t skipped;
  };
  // One pass; the windows it walked and skipped.
  static Work pass_windows(DedupScanner& dedup) {
    const DedupStats before = dedup.stats();
    dedup.step(kMax);
    const DedupStats after = dedup.stats();
    return {after.windows_walked - before.windows_walked, after.windows_skipped - before.windows_skipped};
  }
};

TEST_F(DedupSkipTest, WindowsNothingTouchedAreSkippedAndStillCounted) {
  GuestMemory& a = memory();  // 16 MiB: 8 windows
  for (const uint64_t window : {0, 3, 5}) {
    for (uint64_t i = 0; i < 4; ++i) fill(a, Gpa{window * kWindow + i * kPageSize}, 10 * window + i);
  }
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass_windows(dedup).walked, 8u) << "never walked";
  EXPECT_EQ(pass_windows(dedup).walked, 3u) << "the pages seen written are hashed now";
  const DedupStats settled = dedup.stats();
  const Work quiet = pass_windows(dedup);
  EXPECT_EQ(quiet.walked, 0u);
  EXPECT_EQ(quiet.skipped, 8u);
  const DedupStats s = dedup.stats();
  EXPECT_EQ(s.pages_scanned - settled.pages_scanned, 12u) << "skipped pages count as visited";
  EXPECT_EQ(s.pages_clean, settled.pages_clean) << "but none was looked at";
  EXPECT_EQ(s.full_passes, 3u);

  guest_write(a, Gpa{3 * kWindow + kPageSize}, 99);
  const Work one = pass_windows(dedup);
  EXPECT_EQ(one.walked, 1u) << "only the window written";
  EXPECT_EQ(one.skipped, 7u);
  EXPECT_EQ(dedup.stats().volatile_pages, s.volatile_pages + 1) << "the store was seen";
  EXPECT_EQ(pass_windows(dedup).walked, 1u) << "the written page is hashed at the next pass";
  EXPECT_EQ(pass_windows(dedup).walked, 0u);
}

TEST_F(DedupSkipTest, ATwinFindsACandidateParkedInASkippedWindowBehindTheCursor) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{2 * kWindow}, 7);
  fill(b, Gpa{5 * kWindow}, 8);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  for (int i = 0; i < 3; ++i) dedup.step(kMax);
  ASSERT_EQ(pass_windows(dedup).walked, 0u) << "both settled";

  fill(b, Gpa{6 * kWindow}, 7);  // a's twin, in b, after a in the pass
  EXPECT_EQ(pass_windows(dedup).walked, 1u);
  const Work w = pass_windows(dedup);
  EXPECT_EQ(w.walked, 1u) << "a's window stays skipped";
  EXPECT_EQ(dedup.stats().merges, 2u);
  EXPECT_EQ(frame_of(a, Gpa{2 * kWindow}), frame_of(b, Gpa{6 * kWindow}));
  EXPECT_TRUE(holds(b, Gpa{6 * kWindow}, 7));
}

TEST_F(DedupSkipTest, ATwinWakesACandidateParkedAheadOfTheCursor) {
  GuestMemory& a = memory();
  fill(a, Gpa{6 * kWindow}, 7);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  for (int i = 0; i < 3; ++i) dedup.step(kMax);
  ASSERT_EQ(pass_windows(dedup).walked, 0u);

  fill(a, Gpa{1 * kWindow}, 7);  // the twin comes first in the pass
  EXPECT_EQ(pass_windows(dedup).walked, 1u) << "seen written";
  EXPECT_EQ(pass_windows(dedup).walked, 2u) << "hashed, it wakes the window of its parked twin";
  EXPECT_EQ(dedup.stats().merges, 2u) << "in the same pass, as a walk of every window would";
  EXPECT_EQ(frame_of(a, Gpa{1 * kWindow}), frame_of(a, Gpa{6 * kWindow}));
}

TEST_F(DedupSkipTest, APageDiscardedFromASkippedWindowIsNoLongerCounted) {
  GuestMemory& a = memory();
  for (uint64_t i = 0; i < 6; ++i) fill(a, Gpa{kWindow + i * kPageSize}, 30 + i);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  for (int i = 0; i < 3; ++i) dedup.step(kMax);
  ASSERT_TRUE(a.discard(Gpa{kWindow + 2 * kPageSize}));
  const uint64_t scanned = dedup.stats().pages_scanned;
  EXPECT_EQ(pass_windows(dedup).walked, 1u) << "an unmapped leaf is a change";
  EXPECT_EQ(dedup.stats().pages_scanned - scanned, 5u);
  EXPECT_EQ(pass_windows(dedup).walked, 0u);
  EXPECT_EQ(dedup.stats().pages_scanned - scanned, 10u);
}

// Two identical worlds, one scanner skipping and one walking every window, under the same
// writes, discards, a small budget (passes end inside windows) and a save/restore: after
// every step they have merged the same pages and counted the same visits.
TEST(DedupSkipDifferential, SkippingChangesNoMergeAndNoVisitCount) {
  struct World {
    explicit World(bool skip) : dedup(frames, {.skip_unchanged = skip}) {
      for (int i = 0; i < 3; ++i) {
        mems.push_back(std::make_unique<GuestMemory>(frames, 8 * kMiB));
        dedup.add(*mems.back(), static_cast<uint32_t>(i % 2));
      }
    }
    FrameStore frames{uint64_t{256} << 20};
    std::vector<std::unique_ptr<GuestMemory>> mems;
    DedupScanner dedup;
  };
  World skip(true);
  World walk(false);
  uint64_t x = 12345;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  for (int step = 0; step < 400; ++step) {
    for (int op = 0; op < 3; ++op) {
      const uint64_t r = next();
      const size_t vm = r % 3;
      const Gpa page{((r >> 8) % 4) * kWindow + ((r >> 16) % 40) * kPageSize};  // 4 windows, 40 pages each
      const uint64_t seed = (r >> 32) % 12;  // few contents: many twins
      for (World* w : {&skip, &walk}) {
        GuestMemory& m = *w->mems[vm];
        switch ((r >> 40) % 8) {
          case 0: (void)m.discard(page); break;
          case 1: fill_zero(m, page); break;
          case 2: case 3: fill(m, page, seed); break;
          default:
            if (m.mapping(page)) guest_write(m, page, seed);
        }
      }
    }
    const uint64_t budget = 1 + next() % 90;
    skip.dedup.step(budget);
    walk.dedup.step(budget);
    if (step == 200) {
      skip.dedup.restore(skip.dedup.save());
      walk.dedup.restore(walk.dedup.save());
    }
    const DedupStats a = skip.dedup.stats();
    const DedupStats b = walk.dedup.stats();
    ASSERT_EQ(a.pages_scanned, b.pages_scanned) << "step " << step;
    ASSERT_EQ(a.full_passes, b.full_passes) << "step " << step;
    ASSERT_EQ(a.merges, b.merges) << "step " << step;
    ASSERT_EQ(a.volatile_pages, b.volatile_pages) << "step " << step;
    ASSERT_EQ(a.verify_mismatches, b.verify_mismatches) << "step " << step;
    ASSERT_EQ(a.member_shared_pages, b.member_shared_pages) << "step " << step;
    ASSERT_EQ(a.bytes_saved, b.bytes_saved) << "step " << step;
  }
  const DedupStats a = skip.dedup.stats();
  EXPECT_GT(a.merges, 100u) << "the workload merges";
  EXPECT_GT(a.windows_skipped, 0u) << "and skips";
  EXPECT_EQ(walk.dedup.stats().windows_skipped, 0u);
  for (size_t vm = 0; vm < 3; ++vm) {
    for (uint64_t off = 0; off < 8 * kMiB; off += kPageSize) {
      std::array<uint8_t, kPageSize> p{};
      std::array<uint8_t, kPageSize> q{};
      ASSERT_TRUE(skip.mems[vm]->read(Gpa{off}, p.data(), p.size()));
      ASSERT_TRUE(walk.mems[vm]->read(Gpa{off}, q.data(), q.size()));
      ASSERT_EQ(p, q) << "vm " << vm << " page " << off;
    }
  }
}

}  // namespace
}  // namespace densevm
