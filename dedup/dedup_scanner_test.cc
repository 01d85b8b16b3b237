#include "dedup/dedup_scanner.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <memory>

#include "dedup/internal/test_pages.h"
#include "numa/placement.h"

namespace densevm {
namespace {

using namespace dedup_testing;

struct Counting : P2mListener {
  void on_p2m_change(Gpa, Gpa, P2mChange) override { ++changes; }
  int changes = 0;
};

class DedupScannerTest : public ::testing::Test {
 protected:
  GuestMemory& memory() { return *mems_.emplace_back(std::make_unique<GuestMemory>(frames_, 16 * kMiB)); }

  FrameStore frames_{uint64_t{1} << 30};
  std::vector<std::unique_ptr<GuestMemory>> mems_;
};

TEST_F(DedupScannerTest, MergesIdenticalPagesOfTwoGuestsOntoOneReadOnlyFrame) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x20000}, 1);
  fill(a, Gpa{0x11000}, 2);
  fill(b, Gpa{0x21000}, 3);
  Counting listener;
  a.add_listener(&listener);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  const uint64_t resident = frames_.stats().frames_resident;

  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().merges, 0u) << "first sight of every page: not known stable yet";
  dedup.step(kMax);

  const DedupStats s = dedup.stats();
  EXPECT_EQ(s.full_passes, 2u);
  EXPECT_EQ(s.pages_scanned, 8u);
  EXPECT_EQ(s.merges, 2u);
  EXPECT_EQ(s.shared_frames, 1u);
  EXPECT_EQ(s.sharing_pages, 2u);
  EXPECT_EQ(s.bytes_saved, kPageSize);
  EXPECT_EQ(s.member_shared_pages, (std::vector<uint64_t>{1, 1}));
  const Hpa shared = frame_of(a, Gpa{0x10000});
  EXPECT_EQ(frame_of(b, Gpa{0x20000}), shared);
  EXPECT_EQ(perms_of(a, Gpa{0x10000}), kEptRead | kEptExec);
  EXPECT_EQ(perms_of(b, Gpa{0x20000}), kEptRead | kEptExec);
  EXPECT_EQ(frames_.refcount(shared), 3u) << "two guest mappings and the service's own";
  EXPECT_NE(frame_of(a, Gpa{0x11000}), frame_of(b, Gpa{0x21000}));
  EXPECT_EQ(frames_.stats().frames_resident, resident - 1);
  EXPECT_EQ(frames_.stats().frames_pending, 0u) << "the duplicate went back to the host";
  EXPECT_GE(listener.changes, 1) << "soft TLBs hear about the new rights";
  EXPECT_TRUE(holds(a, Gpa{0x10000}, 1));
  EXPECT_TRUE(holds(b, Gpa{0x20000}, 1));
  a.remove_listener(&listener);
}

TEST_F(DedupScannerTest, AHashMatchAloneNeverMerges) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x10000}, 2);
  fill(b, Gpa{0x30000}, 1);
  // Every page gets the same fingerprint: only memcmp can tell them apart.
  DedupScanner dedup(frames_, {.hash = [](const uint8_t*) -> uint64_t { return 42; }});
  dedup.add(a, 0);
  dedup.add(b, 0);
  for (int pass = 0; pass < 4; ++pass) dedup.step(kMax);

  const DedupStats s = dedup.stats();
  EXPECT_GT(s.verify_mismatches, 0u);
  EXPECT_NE(frame_of(a, Gpa{0x10000}), frame_of(b, Gpa{0x10000}));
  EXPECT_TRUE(holds(a, Gpa{0x10000}, 1));
  EXPECT_TRUE(holds(b, Gpa{0x10000}, 2));
  EXPECT_TRUE(holds(b, Gpa{0x30000}, 1));
  // The pages that are equal still merge once they meet.
  EXPECT_EQ(frame_of(a, Gpa{0x10000}) == frame_of(b, Gpa{0x30000}), s.merges == 2);
  expect_counters_add_up(s);
}

TEST_F(DedupScannerTest, ZeroPagesShareOneZeroFrameInEveryScope) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  for (uint64_t i = 0; i < 5; ++i) fill_zero(a, Gpa{0x40000 + i * kPageSize});
  for (uint64_t i = 0; i < 3; ++i) fill_zero(b, Gpa{0x80000 + i * kPageSize});
  DedupScanner dedup(frames_, {.scope = DedupScope::kVm});
  dedup.add(a, 0);
  dedup.add(b, 1);
  dedup.step(kMax);
  dedup.step(kMax);

  const DedupStats s = dedup.stats();
  EXPECT_EQ(s.zero_pages, 8u);
  EXPECT_EQ(s.sharing_pages, 0u);
  EXPECT_EQ(s.shared_frames, 0u) << "the zero frame is counted apart";
  EXPECT_EQ(s.bytes_saved, 7 * kPageSize);
  const Hpa zero = frame_of(a, Gpa{0x40000});
  EXPECT_EQ(frame_of(b, Gpa{0x82000}), zero);
  EXPECT_EQ(perms_of(b, Gpa{0x82000}), kEptRead | kEptExec);
  uint64_t v = 1;
  ASSERT_TRUE(b.read(Gpa{0x82ff8}, &v, 8));
  EXPECT_EQ(v, 0u);
  expect_counters_add_up(s);
}

TEST_F(DedupScannerTest, VolatilePagesWaitUntilTheirContentHoldsForAPass) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x10000}, 1);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  dedup.step(kMax);
  // Both guests rewrite the page between passes, identically: still volatile.
  fill(a, Gpa{0x10000}, 5);
  fill(b, Gpa{0x10000}, 5);
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().merges, 0u);
  EXPECT_EQ(dedup.stats().volatile_pages, 4u) << "2 first sightings, 2 changed pages";
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().merges, 2u);
  EXPECT_EQ(frame_of(a, Gpa{0x10000}), frame_of(b, Gpa{0x10000}));
  EXPECT_TRUE(holds(b, Gpa{0x10000}, 5));
}

TEST_F(DedupScannerTest, ScopeLimitsWhoShares) {
  struct Case {
    DedupScope scope;
    uint64_t shared_frames, cross_group_frames;
  };
  for (const Case c : {Case{DedupScope::kHost, 1, 1}, Case{DedupScope::kGroup, 2, 0},
                       Case{DedupScope::kVm, 0, 0}}) {
    FrameStore frames(uint64_t{1} << 28);
    std::vector<std::unique_ptr<GuestMemory>> mems;
    DedupScanner dedup(frames, {.scope = c.scope});
    for (uint32_t k = 0; k < 4; ++k) {
      auto& m = *mems.emplace_back(std::make_unique<GuestMemory>(frames, 4 * kMiB));
      fill(m, Gpa{0x10000}, 7);
      fill_zero(m, Gpa{0x20000});
      dedup.add(m, k % 2);  // groups {0, 2} and {1, 3}
    }
    dedup.step(kMax);
    dedup.step(kMax);
    const DedupStats s = dedup.stats();
    SCOPED_TRACE(static_cast<int>(c.scope));
    EXPECT_EQ(s.shared_frames, c.shared_frames);
    EXPECT_EQ(s.cross_group_frames, c.cross_group_frames);
    EXPECT_EQ(s.zero_pages, 4u) << "zero pages are shared in every scope";
    if (c.scope == DedupScope::kGroup) {
      EXPECT_EQ(frame_of(*mems[0], Gpa{0x10000}), frame_of(*mems[2], Gpa{0x10000}));
      EXPECT_EQ(frame_of(*mems[1], Gpa{0x10000}), frame_of(*mems[3], Gpa{0x10000}));
      EXPECT_NE(frame_of(*mems[0], Gpa{0x10000}), frame_of(*mems[1], Gpa{0x10000}));
    }
    expect_counters_add_up(s);
  }
}

TEST_F(DedupScannerTest, VmScopeStillMergesTwinPagesWithinOneGuest) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 3);
  fill(a, Gpa{0x50000}, 3);
  fill(b, Gpa{0x10000}, 3);
  DedupScanner dedup(frames_, {.scope = DedupScope::kVm});
  dedup.add(a, 0);
  dedup.add(b, 0);
  dedup.step(kMax);
  dedup.step(kMax);
  EXPECT_EQ(frame_of(a, Gpa{0x10000}), frame_of(a, Gpa{0x50000}));
  EXPECT_NE(frame_of(a, Gpa{0x10000}), frame_of(b, Gpa{0x10000}));
}

TEST_F(DedupScannerTest, GuestWritesAfterAMergeBreakCopyOnWriteWithTheRightContent) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  fill(a, Gpa{0x10000}, 1);
  fill(b, Gpa{0x10000}, 1);
  fill_zero(a, Gpa{0x20000});
  fill_zero(b, Gpa{0x20000});
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  dedup.step(kMax);
  dedup.step(kMax);
  ASSERT_EQ(dedup.stats().merges, 4u);

  guest_write(a, Gpa{0x10000}, 9);
  guest_write(b, Gpa{0x20000}, 8);
  EXPECT_TRUE(holds(a, Gpa{0x10000}, 9));
  EXPECT_TRUE(holds(b, Gpa{0x10000}, 1)) << "the other guest keeps the shared content";
  EXPECT_TRUE(holds(b, Gpa{0x20000}, 8));
  uint64_t v = 1;
  ASSERT_TRUE(a.read(Gpa{0x20000}, &v, 8));
  EXPECT_EQ(v, 0u) << "the zero frame stays zero";
  EXPECT_EQ(perms_of(a, Gpa{0x10000}), kEptRwx);
  DedupStats s = dedup.stats();
  EXPECT_EQ(s.cow_breaks, 2u);
  EXPECT_EQ(s.sharing_pages, 1u);
  EXPECT_EQ(s.zero_pages, 1u);
  EXPECT_EQ(s.bytes_saved, 0u) << "one frame per remaining user";
  expect_counters_add_up(s);

  // The last sharer writes too: the frame only the service holds is given back.
  guest_write(b, Gpa{0x10000}, 4);
  const uint64_t resident = frames_.stats().frames_resident;
  dedup.step(kMax);
  EXPECT_EQ(frames_.stats().frames_resident, resident - 1);
  s = dedup.stats();
  EXPECT_EQ(s.shared_frames, 0u);
  expect_counters_add_up(s);
}

TEST_F(DedupScannerTest, BudgetIsCountedInMappedPagesAndPassesNeverRunTogether) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  for (uint64_t i = 0; i < 10; ++i) fill(a, Gpa{(i * 300 + 1) * kPageSize}, i);  // sparse
  for (uint64_t i = 0; i < 10; ++i) fill(b, Gpa{i * kPageSize}, i);
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  uint64_t steps = 0;
  while (dedup.stats().full_passes == 0) {
    dedup.step(3);
    ++steps;
  }
  EXPECT_EQ(dedup.stats().pages_scanned, 20u);
  EXPECT_EQ(steps, 7u) << "the step that finds no page left ends the pass";
  EXPECT_EQ(dedup.stats().merges, 0u);
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().pages_scanned, 40u) << "an unlimited step stops at the pass end";
  EXPECT_EQ(dedup.stats().merges, 20u);
}

// The scanner's state (its pass, candidates, fingerprints, frames and counters) taken
// before a step and put back after it: the same step merges the same pages again, and the
// frames the state holds outlive the scanner's own release of them.
TEST_F(DedupScannerTest, ARestoredScannerDoesTheSameWorkAgain) {
  GuestMemory& a = memory();
  GuestMemory& b = memory();
  for (uint64_t i = 0; i < 4; ++i) {
    fill(a, Gpa{0x10000 + i * kPageSize}, 10 + i);
    fill(b, Gpa{0x20000 + i * kPageSize}, 10 + i);
  }
  DedupScanner dedup(frames_);
  dedup.add(a, 0);
  dedup.add(b, 0);
  dedup.step(kMax);  // every page seen once: the next pass merges
  const DedupScanner::State before = dedup.save();
  EXPECT_EQ(before.frames.refs.size(), 0u) << "nothing owned yet";
  std::vector<std::pair<Gpa, Hpa>> private_frames;
  for (uint64_t i = 0; i < 4; ++i) private_frames.emplace_back(Gpa{0x20000 + i * kPageSize}, frame_of(b, Gpa{0x20000 + i * kPageSize}));

  dedup.step(kMax);
  const DedupStats merged = dedup.stats();
  EXPECT_EQ(merged.merges, 8u);
  EXPECT_EQ(merged.shared_frames, 4u);
  const DedupScanner::State after = dedup.save();
  EXPECT_EQ(after.frames.refs.size(), 4u);

  // Put the guests' pages back as they were (what a memory rollback does), then the scanner.
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(a.write(Gpa{0x10000 + i * kPageSize}, pattern(10 + i).data(), kPageSize));
    ASSERT_TRUE(b.write(Gpa{0x20000 + i * kPageSize}, pattern(10 + i).data(), kPageSize));
  }
  dedup.restore(before);
  EXPECT_EQ(dedup.stats().merges, 0u) << "the counters are the state's";
  EXPECT_EQ(dedup.stats().full_passes, 1u);
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().merges, merged.merges);
  EXPECT_EQ(dedup.stats().full_passes, merged.full_passes);
  EXPECT_EQ(dedup.stats().shared_frames, 4u);

  dedup.restore(after);  // the frames `after` holds are owned again
  EXPECT_EQ(dedup.stats().merges, merged.merges);
  for (uint64_t i = 0; i < 4; ++i) EXPECT_TRUE(holds(a, Gpa{0x10000 + i * kPageSize}, 10 + i));
}

// Two NUMA nodes (an injected topology, one FrameStore pool each): a page merged from a VM on
// node 0 with two VMs on node 1 starts in the node-0 VM's frame; at the end of the pass it
// moves to node 1's pool, every user remapped, the old frame given back. With one user on
// each side (a tie) it stays where it is.
TEST(DedupScannerNuma, AMergedFrameMovesToThePoolOfMostOfItsUsers) {
  const NumaPlacement numa(Topology::uniform(2, 64 * kMiB, 1), *NumaSetting::parse("auto"));
  FrameStore frames(numa.pool_specs(64 * kMiB));
  ASSERT_EQ(frames.pools(), 2u);
  GuestMemory a(frames, 4 * kMiB), b(frames, 4 * kMiB, /*pool=*/1), c(frames, 4 * kMiB, /*pool=*/1);
  fill(a, Gpa{0x10000}, 7);
  fill(b, Gpa{0x10000}, 7);
  fill(c, Gpa{0x20000}, 7);
  fill(a, Gpa{0x30000}, 8);  // a tie: one user in each pool
  fill(b, Gpa{0x30000}, 8);
  const Hpa first = frame_of(a, Gpa{0x10000});
  ASSERT_EQ(frames.pool_of(first), 0u);
  DedupScanner dedup(frames);
  dedup.add(a, 0);
  dedup.add(b, 0);
  dedup.add(c, 0);
  dedup.step(kMax);
  dedup.step(kMax);

  const DedupStats s = dedup.stats();
  EXPECT_EQ(s.merges, 5u);
  EXPECT_EQ(s.frames_moved, 1u);
  EXPECT_EQ(s.shared_frames, 2u);
  const Hpa moved = frame_of(a, Gpa{0x10000});
  EXPECT_NE(moved, first);
  EXPECT_EQ(frames.pool_of(moved), 1u);
  EXPECT_EQ(frame_of(b, Gpa{0x10000}), moved);
  EXPECT_EQ(frame_of(c, Gpa{0x20000}), moved);
  EXPECT_EQ(frames.refcount(moved), 4u) << "three users and the service";
  EXPECT_EQ(frames.refcount(first), 0u) << "the old frame went back";
  EXPECT_EQ(perms_of(b, Gpa{0x10000}), kEptRead | kEptExec);
  EXPECT_TRUE(holds(a, Gpa{0x10000}, 7));
  EXPECT_TRUE(holds(c, Gpa{0x20000}, 7));
  EXPECT_EQ(frames.pool_of(frame_of(a, Gpa{0x30000})), 0u) << "a tie stays put";
  EXPECT_EQ(frame_of(b, Gpa{0x30000}), frame_of(a, Gpa{0x30000}));

  // A write still copies (into the writer's pool), and the next pass moves nothing more.
  const uint8_t byte = 1;
  ASSERT_TRUE(a.write(Gpa{0x10000}, &byte, 1));
  dedup.step(kMax);
  EXPECT_EQ(dedup.stats().frames_moved, 1u);
  EXPECT_EQ(frame_of(b, Gpa{0x10000}), moved);
}

}  // namespace
}  // namespace densevm