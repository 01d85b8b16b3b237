// The scanner hashes a page only when it was not written since its last visit, and then only
// if it was written since it was last hashed: every way of writing guest memory (a guest
// store, a host-side write or DMA, a copy-on-write break, a put-back frame, a page given
// back and touched again) makes the next visit find it written (volatile, not hashed) and
// the one after hash it again; a page nobody wrote keeps its fingerprint.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "dedup/dedup_scanner.h"
#include "dedup/internal/test_pages.h"

namespace densevm {
namespace {

using namespace dedup_testing;

class DedupRehashTest : public ::testing::Test {
 protected:
  GuestMemory& memory() { return *mems_.emplace_back(std::make_unique<GuestMemory>(frames_, 16 * kMiB)); }

  // One pass; returns how many pages it hashed.
  uint64_t pass(DedupScanner& dedup) {
    const uint64_t before = dedup.stats().pages_hashed;
    dedup.step(kMax);
    return dedup.stats().pages_hashed - before;
  }

  FrameStore frames_{uint64_t{1} << 30};
  std::vector<std::unique_ptr<GuestMemory>> mems_;
};

// Eight unique private pages, each hashed once, then kept.
TEST_F(DedupRehashTest, AnUntouchedPageIsNotHashedAgain) {
  GuestMemory& a = memory();
  for (uint64_t i = 0; i < 8; ++i) fill(a, Gpa{0x10000 + i * kPageSize}, 100 + i);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u) << "written by the fill: volatile, not worth a hash";
  EXPECT_EQ(pass(dedup), 8u);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 0u);
  const DedupStats s = dedup.stats();
  EXPECT_EQ(s.pages_clean, 16u);
  EXPECT_EQ(s.pages_scanned, 32u);
  EXPECT_EQ(s.volatile_pages, 8u) << "the first pass only";
}

TEST_F(DedupRehashTest, AGuestStoreMakesThePageHashedAgain) {
  GuestMemory& a = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(a, Gpa{0x11000}, 2);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 2u);
  guest_write(a, Gpa{0x11000}, 3);  // a TLB hit after the harvest walks again: sets D
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(dedup.stats().volatile_pages, 3u) << "the write was seen";
  EXPECT_EQ(pass(dedup), 1u);
  EXPECT_EQ(pass(dedup), 0u);
}

TEST_F(DedupRehashTest, AHostWriteMakesThePageHashedAgain) {
  GuestMemory& a = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(a, Gpa{0x11000}, 2);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 2u);
  fill(a, Gpa{0x10000}, 5);  // GuestMemory::write: what devices' DMA and the loader use
  uint8_t* p = a.writable_page(Gpa{0x11000});
  ASSERT_NE(p, nullptr);
  p[7] ^= 1;
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(dedup.stats().volatile_pages, 4u);
  EXPECT_EQ(pass(dedup), 2u);
  EXPECT_EQ(pass(dedup), 0u);
}

TEST_F(DedupRehashTest, ACopyOnWriteBreakMakesThePageHashedAgain) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x10000}, 1);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 2u);
  ASSERT_EQ(dedup.stats().merges, 2u);
  EXPECT_EQ(pass(dedup), 0u) << "merged pages are not hashed";
  guest_write(b, Gpa{0x10000}, 1);  // same bytes again, but a private copy now
  EXPECT_EQ(b.cow_breaks(), 1u);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(dedup.stats().merges, 2u) << "written: volatile";
  EXPECT_EQ(pass(dedup), 1u);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(dedup.stats().merges, 3u) << "merged again onto the frame it left";
  EXPECT_TRUE(holds(b, Gpa{0x10000}, 1));
}

// A checkpoint's rollback puts an old frame back under the page (GuestMemory::put_back).
TEST_F(DedupRehashTest, AFramePutBackMakesThePageHashedAgain) {
  GuestMemory& a = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(a, Gpa{0x11000}, 2);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 2u);
  const std::optional<Hpa> old = frames_.allocate();
  ASSERT_TRUE(old.has_value());
  const auto bytes = pattern(9);
  std::memcpy(frames_.host_ptr(*old), bytes.data(), bytes.size());
  ASSERT_TRUE(a.put_back(Gpa{0x10000}, *old, kEptRwx, EptMemType::kWriteBack));
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 1u);
  EXPECT_EQ(pass(dedup), 0u);
}

// The balloon takes a page; touched again it is a zeroed frame, perhaps the very same one.
TEST_F(DedupRehashTest, APageDiscardedAndTouchedAgainIsHashedAgain) {
  GuestMemory& a = memory();
  fill(a, Gpa{0x10000}, 1);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 1u);
  EXPECT_EQ(pass(dedup), 0u);
  ASSERT_TRUE(a.discard(Gpa{0x10000}));
  frames_.flush_released();
  ASSERT_EQ(a.populate(Gpa{0x10000}), GuestMemory::Populate::kMapped);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(dedup.stats().zero_pages, 0u);
  EXPECT_EQ(pass(dedup), 1u);
  EXPECT_EQ(dedup.stats().zero_pages, 1u) << "its zeros were seen, and merged when stable";
}

// The scanner's state comes back from a checkpoint: its kept fingerprints are not part of it
// and are forgotten, so every page is hashed anew and the scan goes on as saved.
TEST_F(DedupRehashTest, ARestoredScannerHashesEveryPageAgain) {
  GuestMemory& a = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(a, Gpa{0x11000}, 2);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  EXPECT_EQ(pass(dedup), 0u);
  EXPECT_EQ(pass(dedup), 2u);
  const DedupScanner::State saved = dedup.save();
  EXPECT_EQ(pass(dedup), 0u);
  dedup.restore(saved);
  EXPECT_EQ(dedup.stats().pages_hashed, 2u) << "host work goes on across a restore";
  EXPECT_EQ(pass(dedup), 2u);
  EXPECT_EQ(dedup.stats().volatile_pages, 2u) << "the same bytes: stable, as saved";

  // Written before the save, visited after the restore: volatile, as without the checkpoint.
  guest_write(a, Gpa{0x10000}, 1);
  const DedupScanner::State written = dedup.save();
  dedup.restore(written);
  EXPECT_EQ(pass(dedup), 1u) << "only the other page, its fingerprint forgotten";
  EXPECT_EQ(dedup.stats().volatile_pages, 3u);
}

// What a page's D bit says beyond its bytes: a page written between two visits is volatile
// even if it holds the same bytes again (a stack, a counter put back), so it is not merged
// only to be copied at its next write; left alone for a pass, it merges.
TEST_F(DedupRehashTest, APageWrittenBetweenVisitsIsVolatileEvenWithTheSameBytes) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x10000}, 1);
  fill(a, Gpa{0x20000}, 2);
  fill(b, Gpa{0x20000}, 2);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  for (int round = 0; round < 4; ++round) {
    guest_write(a, Gpa{0x10000}, 1);  // the same bytes, every time
    dedup.step(kMax);
  }
  EXPECT_EQ(dedup.stats().merges, 2u) << "only the pair at 0x20000";
  EXPECT_EQ(dedup.stats().pages_hashed, 3u) << "the page written each round is never hashed";
  EXPECT_EQ(a.cow_breaks(), 0u) << "never merged, never copied";
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().merges, 4u) << "left alone for a pass: merged";
  EXPECT_EQ(dedup.stats().pages_hashed, 4u);
  EXPECT_EQ(frame_of(a, Gpa{0x10000}), frame_of(b, Gpa{0x10000}));
}

}  // namespace
}  // namespace densevm
