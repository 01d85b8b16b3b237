#include "ept/p2m.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace densevm {
namespace {

constexpr uint64_t k2M = uint64_t{1} << 21;
constexpr uint64_t k1G = uint64_t{1} << 30;
constexpr uint64_t k512G = uint64_t{1} << 39;

struct RecordingListener : P2mListener {
  void on_p2m_change(Gpa begin, Gpa end, P2mChange change) override {
    changes.emplace_back(begin.value(), end.value());
    kinds.push_back(change);
  }
  std::vector<std::pair<uint64_t, uint64_t>> changes;
  std::vector<P2mChange> kinds;
};

class P2mTest : public ::testing::Test {
 protected:
  // Maps a fresh frame at gpa and returns it.
  Hpa map_new(uint64_t gpa, EptPerms perms = kEptRwx) {
    const Hpa hpa = *frames_.allocate();
    EXPECT_EQ(p2m_.map(Gpa{gpa}, hpa, perms), P2mStatus::kOk);
    return hpa;
  }
  static const EptHit* hit(const EptLookup& r) { return std::get_if<EptHit>(&r); }
  static const EptViolation* miss(const EptLookup& r) { return std::get_if<EptViolation>(&r); }

  FrameStore frames_{uint64_t{256} << 20};
  P2m p2m_{frames_};
};

TEST_F(P2mTest, MapThenLookupHits) {
  const Hpa hpa = map_new(0x1234'5000);
  const EptLookup r = p2m_.lookup(Gpa{0x1234'5678}, Access::kRead);
  ASSERT_NE(hit(r), nullptr);
  EXPECT_EQ(hit(r)->hpa, hpa);
  EXPECT_EQ(hit(r)->perms, kEptRwx);
  EXPECT_EQ(p2m_.stats().mapped_pages, 1u);
  EXPECT_EQ(p2m_.stats().table_frames, 4u);
  EXPECT_EQ(p2m_.stats().walk_references, 4u) << "one reference per level";
}

// prepare builds the path and maps nothing; the map after it makes no table.
TEST_F(P2mTest, PrepareBuildsThePathAheadOfAMap) {
  ASSERT_EQ(p2m_.prepare(Gpa{0x6000}), P2mStatus::kOk);
  EXPECT_EQ(p2m_.stats().table_frames, 4u) << "root, PDPT, PD, PT";
  EXPECT_EQ(p2m_.stats().mapped_pages, 0u);
  EXPECT_FALSE(p2m_.inspect(Gpa{0x6000}).has_value());
  EXPECT_NE(miss(p2m_.lookup(Gpa{0x6000}, Access::kRead)), nullptr);
  const Hpa hpa = map_new(0x6000);
  EXPECT_EQ(p2m_.stats().table_frames, 4u) << "the map wrote the leaf alone";
  const EptLookup r = p2m_.lookup(Gpa{0x6080}, Access::kWrite);
  ASSERT_NE(hit(r), nullptr);
  EXPECT_EQ(hit(r)->hpa, hpa);
  EXPECT_EQ(p2m_.prepare(Gpa{P2m::kGpaLimit}), P2mStatus::kInvalidArgument);
}

TEST_F(P2mTest, TablesAreRealEptFormat) {
  const Hpa hpa = map_new(0x40'0000, kEptRx);
  auto table = [&](uint64_t entry) {
    return reinterpret_cast<const uint64_t*>(frames_.host_ptr(Hpa(entry & EptEntry::kAddressMask)));
  };
  const uint64_t* pml4 = table(p2m_.root().value());
  EXPECT_EQ(pml4[0] & EptEntry::kPermMask, 7u) << "intermediate entries allow RWX";
  const uint64_t* pt = table(table(table(pml4[0])[0])[2]);
  EXPECT_EQ(pt[0], hpa.value() | 0x5 | (6u << 3)) << "R+X, memory type WB, no A/D yet";
  ASSERT_NE(hit(p2m_.lookup(Gpa{0x40'0000}, Access::kRead)), nullptr);
  EXPECT_EQ(pt[0] & (EptEntry::kAccessed | EptEntry::kDirty), EptEntry::kAccessed);
  EXPECT_NE(pml4[0] & EptEntry::kAccessed, 0u);
}

TEST_F(P2mTest, UnmappedGpaIsAViolationValue) {
  const EptLookup r = p2m_.lookup(Gpa{0x9000}, Access::kWrite);
  ASSERT_NE(miss(r), nullptr);
  EXPECT_EQ(miss(r)->gpa, Gpa{0x9000});
  EXPECT_EQ(miss(r)->access, Access::kWrite);
  EXPECT_FALSE(miss(r)->mapped);
  EXPECT_EQ(miss(r)->effective_perms, kEptNone);
  EXPECT_EQ(p2m_.stats().walk_references, 1u) << "the empty root entry ends the walk";

  const EptLookup far = p2m_.lookup(Gpa{P2m::kGpaLimit + 0x1000}, Access::kRead);
  ASSERT_NE(miss(far), nullptr);
  EXPECT_FALSE(miss(far)->mapped);
  EXPECT_EQ(p2m_.stats().violations, 2u);
}

TEST_F(P2mTest, LeafRightsDecideAccess) {
  map_new(0x1000, kEptRead);
  EXPECT_NE(hit(p2m_.lookup(Gpa{0x1000}, Access::kRead)), nullptr);
  const EptLookup w = p2m_.lookup(Gpa{0x1008}, Access::kWrite);
  ASSERT_NE(miss(w), nullptr);
  EXPECT_TRUE(miss(w)->mapped);
  EXPECT_EQ(miss(w)->effective_perms, kEptRead);
  EXPECT_EQ(miss(w)->gpa, Gpa{0x1008});
  EXPECT_NE(miss(p2m_.lookup(Gpa{0x1000}, Access::kExec)), nullptr);
}

TEST_F(P2mTest, RightsAreAndedAcrossLevels) {
  map_new(0x20'0000, kEptRw);
  ASSERT_EQ(p2m_.restrict_subtree(Gpa{0x20'0000}, 2, kEptRx), P2mStatus::kOk);
  const EptLookup r = p2m_.lookup(Gpa{0x20'0000}, Access::kRead);
  ASSERT_NE(hit(r), nullptr);
  EXPECT_EQ(hit(r)->perms, kEptRead) << "RW leaf under an RX entry";
  const EptLookup w = p2m_.lookup(Gpa{0x20'0000}, Access::kWrite);
  ASSERT_NE(miss(w), nullptr);
  EXPECT_TRUE(miss(w)->mapped);
  EXPECT_EQ(miss(w)->effective_perms, kEptRead);
  EXPECT_NE(miss(p2m_.lookup(Gpa{0x20'0000}, Access::kExec)), nullptr);
  const std::optional<P2mLeaf> leaf = p2m_.inspect(Gpa{0x20'0000});
  ASSERT_TRUE(leaf.has_value());
  EXPECT_EQ(leaf->perms, kEptRw);
  EXPECT_EQ(leaf->effective_perms, kEptRead);
}

TEST_F(P2mTest, OneUpperEntryRestrictsAWholeSubtree) {
  const uint64_t pages[] = {0x0, 0x1000, 0x20'0000, 0x3FE0'0000};  // all in the first 1 GiB
  for (uint64_t gpa : pages) map_new(gpa);
  map_new(k1G);  // the next 1 GiB stays writable
  RecordingListener listener;
  p2m_.add_listener(&listener);

  ASSERT_EQ(p2m_.restrict_subtree(Gpa{0x1234'5000}, 3, kEptRead), P2mStatus::kOk);
  for (uint64_t gpa : pages) {
    EXPECT_NE(miss(p2m_.lookup(Gpa{gpa}, Access::kWrite)), nullptr) << gpa;
    EXPECT_NE(hit(p2m_.lookup(Gpa{gpa}, Access::kRead)), nullptr) << gpa;
    EXPECT_EQ(p2m_.inspect(Gpa{gpa})->perms, kEptRwx) << "leaves are untouched";
  }
  EXPECT_NE(hit(p2m_.lookup(Gpa{k1G}, Access::kWrite)), nullptr);
  ASSERT_EQ(listener.changes.size(), 1u);
  EXPECT_EQ(listener.changes[0], std::make_pair(uint64_t{0}, k1G));

  ASSERT_EQ(p2m_.unrestrict_subtree(Gpa{0}, 3), P2mStatus::kOk);
  for (uint64_t gpa : pages) EXPECT_NE(hit(p2m_.lookup(Gpa{gpa}, Access::kWrite)), nullptr);
  EXPECT_EQ(listener.changes.size(), 2u);

  ASSERT_EQ(p2m_.restrict_subtree(Gpa{0}, 4, kEptNone), P2mStatus::kOk);
  const EptLookup r = p2m_.lookup(Gpa{k1G}, Access::kRead);
  ASSERT_NE(miss(r), nullptr);
  EXPECT_TRUE(miss(r)->mapped) << "the page is still there behind the restricted entry";
  EXPECT_EQ(miss(r)->effective_perms, kEptNone);
  EXPECT_EQ(listener.changes.back(), std::make_pair(uint64_t{0}, k512G));
  ASSERT_EQ(p2m_.unrestrict_subtree(Gpa{0}, 4), P2mStatus::kOk);
  EXPECT_NE(hit(p2m_.lookup(Gpa{k1G}, Access::kRead)), nullptr);
  p2m_.remove_listener(&listener);
}

TEST_F(P2mTest, SubtreeRestrictionNeedsATable) {
  EXPECT_EQ(p2m_.restrict_subtree(Gpa{0}, 2, kEptRead), P2mStatus::kNotMapped);
  map_new(0);
  EXPECT_EQ(p2m_.restrict_subtree(Gpa{0}, 1, kEptRead), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.restrict_subtree(Gpa{0}, 5, kEptRead), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.restrict_subtree(Gpa{0}, 2, kEptWrite), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.restrict_subtree(Gpa{k2M}, 2, kEptRead), P2mStatus::kNotMapped);
}

TEST_F(P2mTest, ProtectChangesLeavesAndNotifiesRuns) {
  for (uint64_t page : {0, 1, 2, 5}) map_new(page * kPageSize);
  RecordingListener listener;
  p2m_.add_listener(&listener);
  ASSERT_EQ(p2m_.protect(Gpa{0}, Gpa{8 * kPageSize}, kEptRead), P2mStatus::kOk);
  const std::vector<std::pair<uint64_t, uint64_t>> runs = {{0, 3 * kPageSize},
                                                           {5 * kPageSize, 6 * kPageSize}};
  EXPECT_EQ(listener.changes, runs);
  EXPECT_EQ(p2m_.inspect(Gpa{kPageSize})->perms, kEptRead);
  EXPECT_FALSE(p2m_.inspect(Gpa{3 * kPageSize}).has_value()) << "unmapped pages stay unmapped";
  listener.changes.clear();
  ASSERT_EQ(p2m_.protect(Gpa{0}, Gpa{8 * kPageSize}, kEptRead), P2mStatus::kOk);
  EXPECT_TRUE(listener.changes.empty()) << "no change, no notification";
  EXPECT_EQ(p2m_.protect(Gpa{0}, Gpa{kPageSize}, kEptWrite | kEptExec),
            P2mStatus::kInvalidArgument);
  p2m_.remove_listener(&listener);
}

TEST_F(P2mTest, LookupSetsAccessedAndDirtyLikeHardware) {
  map_new(0x3000);
  EXPECT_FALSE(p2m_.inspect(Gpa{0x3000})->accessed);
  ASSERT_NE(hit(p2m_.lookup(Gpa{0x3000}, Access::kRead)), nullptr);
  EXPECT_TRUE(p2m_.inspect(Gpa{0x3000})->accessed);
  EXPECT_FALSE(p2m_.inspect(Gpa{0x3000})->dirty);
  ASSERT_NE(hit(p2m_.lookup(Gpa{0x3000}, Access::kWrite)), nullptr);
  EXPECT_TRUE(p2m_.inspect(Gpa{0x3000})->dirty);
}

TEST_F(P2mTest, FailedWriteDoesNotSetDirty) {
  map_new(0x3000, kEptRead);
  ASSERT_NE(miss(p2m_.lookup(Gpa{0x3000}, Access::kWrite)), nullptr);
  EXPECT_FALSE(p2m_.inspect(Gpa{0x3000})->dirty);
}

TEST_F(P2mTest, HarvestDirtyReportsAndClears) {
  for (uint64_t page = 0; page < 8; ++page) map_new(page * kPageSize);
  for (uint64_t page : {1, 2, 6}) {
    ASSERT_NE(hit(p2m_.lookup(Gpa{page * kPageSize}, Access::kWrite)), nullptr);
  }
  ASSERT_NE(hit(p2m_.lookup(Gpa{4 * kPageSize}, Access::kRead)), nullptr);
  RecordingListener listener;
  p2m_.add_listener(&listener);

  std::vector<uint64_t> dirty;
  p2m_.harvest_dirty(Gpa{0}, Gpa{6 * kPageSize}, [&](Gpa gpa) { dirty.push_back(gpa.value()); });
  EXPECT_EQ(dirty, (std::vector<uint64_t>{kPageSize, 2 * kPageSize})) << "page 6 is out of range";
  EXPECT_FALSE(p2m_.inspect(Gpa{kPageSize})->dirty);
  EXPECT_TRUE(p2m_.inspect(Gpa{kPageSize})->accessed) << "A is idle sampling's, not dirty logging's";
  EXPECT_TRUE(p2m_.inspect(Gpa{4 * kPageSize})->accessed);
  const std::vector<std::pair<uint64_t, uint64_t>> one_run = {{kPageSize, 3 * kPageSize}};
  EXPECT_EQ(listener.changes, one_run);

  dirty.clear();
  p2m_.harvest_dirty(Gpa{0}, Gpa{P2m::kGpaLimit}, [&](Gpa gpa) { dirty.push_back(gpa.value()); });
  EXPECT_EQ(dirty, (std::vector<uint64_t>{6 * kPageSize}));
  p2m_.remove_listener(&listener);
}

TEST_F(P2mTest, MarkDirtyIsHarvestedLikeAWrite) {
  map_new(0x3000);
  map_new(0x4000, kEptRead);
  p2m_.mark_dirty(Gpa{0x3000});
  p2m_.mark_dirty(Gpa{0x4000});  // the VMM may write a page the guest may not
  p2m_.mark_dirty(Gpa{0x5000});  // nothing mapped: nothing to mark
  EXPECT_FALSE(p2m_.inspect(Gpa{0x3000})->accessed) << "only D";
  std::vector<uint64_t> dirty;
  p2m_.harvest_dirty(Gpa{0}, Gpa{P2m::kGpaLimit}, [&](Gpa gpa) { dirty.push_back(gpa.value()); });
  EXPECT_EQ(dirty, (std::vector<uint64_t>{0x3000, 0x4000}));
  EXPECT_FALSE(p2m_.inspect(Gpa{0x5000}).has_value());
}

TEST_F(P2mTest, TestAndClearAccessed) {
  map_new(0x5000);
  EXPECT_FALSE(p2m_.test_and_clear_accessed(Gpa{0x5000}));
  ASSERT_NE(hit(p2m_.lookup(Gpa{0x5000}, Access::kExec)), nullptr);
  EXPECT_TRUE(p2m_.test_and_clear_accessed(Gpa{0x5000}));
  EXPECT_FALSE(p2m_.test_and_clear_accessed(Gpa{0x5000}));
  EXPECT_FALSE(p2m_.test_and_clear_accessed(Gpa{0x6000}));
}

TEST_F(P2mTest, ListenersHearChangesButNotAdditions) {
  RecordingListener a;
  RecordingListener b;
  p2m_.add_listener(&a);
  p2m_.add_listener(&b);
  map_new(0x7000);
  EXPECT_TRUE(a.changes.empty()) << "filling a not-present entry is not announced";
  map_new(0x7000);  // remap
  ASSERT_EQ(a.changes.size(), 1u);
  EXPECT_EQ(a.changes[0], std::make_pair(uint64_t{0x7000}, uint64_t{0x8000}));
  EXPECT_EQ(a.kinds[0], P2mChange::kFrame);
  p2m_.remove_listener(&b);
  EXPECT_TRUE(p2m_.unmap(Gpa{0x7000}).has_value());
  EXPECT_EQ(a.changes.size(), 2u);
  EXPECT_EQ(a.kinds.back(), P2mChange::kFrame);
  EXPECT_EQ(b.changes.size(), 1u);
  EXPECT_FALSE(p2m_.unmap(Gpa{0x7000}).has_value());
  EXPECT_EQ(a.changes.size(), 2u);
  p2m_.remove_listener(&a);
}

// Listeners learn whether only rights changed or the bytes behind a page may have too.
TEST_F(P2mTest, ChangesSayWhetherTheFrameChanged) {
  map_new(0x7000);
  RecordingListener listener;
  p2m_.add_listener(&listener);
  ASSERT_EQ(p2m_.protect(Gpa{0x7000}, Gpa{0x8000}, kEptRead), P2mStatus::kOk);
  ASSERT_EQ(p2m_.restrict_subtree(Gpa{0x7000}, 2, kEptRx), P2mStatus::kOk);
  map_new(0x7000);
  EXPECT_TRUE(p2m_.unmap(Gpa{0x7000}).has_value());
  const std::vector<P2mChange> expected = {P2mChange::kRights, P2mChange::kRights,
                                           P2mChange::kFrame, P2mChange::kFrame};
  EXPECT_EQ(listener.kinds, expected);
  p2m_.remove_listener(&listener);
}

// A restriction moves down one level per step, into every child that holds a frame, and
// no page's effective rights change on the way: nobody is told.
TEST_F(P2mTest, PushDownMovesRestrictionsToTheLeafWithoutChangingRights) {
  const uint64_t pages[] = {0x0, 0x1000, 0x20'0000, k1G + 0x3000, k512G};
  for (uint64_t gpa : pages) map_new(gpa);
  ASSERT_EQ(p2m_.protect(Gpa{0x1000}, Gpa{0x2000}, kEptRead), P2mStatus::kOk);
  ASSERT_EQ(p2m_.restrict_subtree(Gpa{0}, 4, kEptRx), P2mStatus::kOk);
  std::vector<EptPerms> effective;
  for (uint64_t gpa : pages) effective.push_back(p2m_.inspect(Gpa{gpa})->effective_perms);
  RecordingListener listener;
  p2m_.add_listener(&listener);
  const uint64_t writes = p2m_.stats().entry_writes;

  EXPECT_EQ(p2m_.push_down(Gpa{0}), 3u);
  EXPECT_TRUE(listener.changes.empty());
  for (size_t i = 0; i < std::size(pages); ++i) {
    EXPECT_EQ(p2m_.inspect(Gpa{pages[i]})->effective_perms, effective[i]) << pages[i];
  }
  EXPECT_EQ(p2m_.inspect(Gpa{0})->perms, kEptRx) << "the leaf holds the restriction now";
  EXPECT_EQ(p2m_.inspect(Gpa{0x1000})->perms, kEptRead) << "ANDed: R stays R";
  EXPECT_EQ(p2m_.inspect(Gpa{0x20'0000})->perms, kEptRwx) << "held by its 2 MiB entry";
  EXPECT_EQ(p2m_.inspect(Gpa{k1G + 0x3000})->perms, kEptRwx) << "held by its 1 GiB entry";
  EXPECT_EQ(p2m_.inspect(Gpa{k512G})->effective_perms, kEptRwx) << "another 512 GiB entry";
  // Levels 4, 3, 2 give RWX back (3 writes); children narrowed: two 1 GiB entries, two
  // 2 MiB entries, one leaf (the R-only one stays as it is).
  EXPECT_EQ(p2m_.stats().entry_writes - writes, 3u + 2u + 2u + 1u);
  EXPECT_EQ(p2m_.stats().push_downs, 3u);
  EXPECT_EQ(p2m_.push_down(Gpa{0x1000}), 0u) << "nothing left above the leaf";
  EXPECT_EQ(p2m_.push_down(Gpa{0x20'0000}), 1u) << "its 2 MiB entry";
  EXPECT_EQ(p2m_.inspect(Gpa{0x20'0000})->perms, kEptRx);
  EXPECT_EQ(p2m_.push_down(Gpa{0x40'0000}), 0u) << "no table there";
  EXPECT_TRUE(listener.changes.empty());
  p2m_.remove_listener(&listener);
}

struct RecordingKeeper : P2mKeeper {
  void before_leaf_change(Gpa page, EptEntry old) override {
    seen.emplace_back(page.value(), old.holds_frame() ? old.frame().value() : 0);
  }
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // page, frame it held (0: none)
};

// The keeper sees a leaf before map() fills or replaces it, before unmap() and when asked
// before a write in place; rights changes are not its business.
TEST_F(P2mTest, KeeperSeesEveryLeafBeforeItLosesItsBytes) {
  RecordingKeeper keeper;
  p2m_.set_keeper(&keeper);
  const Hpa first = map_new(0x9000);
  const Hpa second = map_new(0x9000);
  ASSERT_EQ(p2m_.protect(Gpa{0x9000}, Gpa{0xa000}, kEptRx), P2mStatus::kOk);
  p2m_.before_leaf_write(Gpa{0x9000});
  p2m_.before_leaf_write(Gpa{0xa000});  // nothing mapped: nothing to see
  EXPECT_TRUE(p2m_.unmap(Gpa{0x9000}).has_value());
  const std::vector<std::pair<uint64_t, uint64_t>> expected = {
      {0x9000, 0}, {0x9000, first.value()}, {0x9000, second.value()}, {0x9000, second.value()}};
  EXPECT_EQ(keeper.seen, expected);
  EXPECT_EQ(p2m_.keeper(), &keeper);
  p2m_.set_keeper(nullptr);
  map_new(0x9000);
  EXPECT_EQ(keeper.seen.size(), expected.size());
}

TEST_F(P2mTest, MappedFramesAreOwnedByTheP2m) {
  const FrameStoreStats before = frames_.stats();
  const Hpa a = map_new(0x1000);
  const Hpa b = *frames_.allocate();
  frames_.retain(b);  // one reference for each mapping below
  ASSERT_EQ(p2m_.map(Gpa{0x2000}, b, kEptRead), P2mStatus::kOk);
  ASSERT_EQ(p2m_.map(Gpa{0x3000}, b, kEptRead), P2mStatus::kOk);
  EXPECT_EQ(frames_.refcount(a), 1u);
  EXPECT_EQ(frames_.refcount(b), 2u);
  EXPECT_EQ(frames_.stats().frames_shared, 1u);

  EXPECT_EQ(p2m_.unmap(Gpa{0x3000}), b);
  EXPECT_EQ(frames_.refcount(b), 1u);
  const Hpa c = *frames_.allocate();
  ASSERT_EQ(p2m_.map(Gpa{0x1000}, c, kEptRwx), P2mStatus::kOk);  // remap releases a
  EXPECT_EQ(frames_.refcount(a), 0u);
  EXPECT_EQ(frames_.stats().frames_resident, before.frames_resident + 3 + 2);  // tables + b + c

  {
    P2m other(frames_);
    const Hpa d = *frames_.allocate();
    ASSERT_EQ(other.map(Gpa{k1G}, d, kEptRwx), P2mStatus::kOk);
    frames_.retain(c);
    ASSERT_EQ(other.map(Gpa{0}, c, kEptRead), P2mStatus::kOk);
    EXPECT_EQ(frames_.refcount(c), 2u);
  }
  EXPECT_EQ(frames_.refcount(c), 1u) << "the destroyed P2m gave its references back";
  EXPECT_EQ(frames_.stats().frames_resident, before.frames_resident + 3 + 2);
}

TEST_F(P2mTest, DestructorReleasesEverything) {
  FrameStore frames(uint64_t{64} << 20);
  {
    P2m p2m(frames);
    for (uint64_t i = 0; i < 100; ++i) {
      ASSERT_EQ(p2m.map(Gpa{i * 7 * k2M}, *frames.allocate(), kEptRwx), P2mStatus::kOk);
    }
    EXPECT_EQ(frames.stats().frames_resident, 100 + p2m.stats().table_frames);
  }
  EXPECT_EQ(frames.stats().frames_resident, 0u);
}

TEST_F(P2mTest, MapRejectsBadArgumentsAndLeavesTheFrameToTheCaller) {
  const Hpa hpa = *frames_.allocate();
  EXPECT_EQ(p2m_.map(Gpa{0x1001}, hpa, kEptRwx), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{P2m::kGpaLimit}, hpa, kEptRwx), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{0x1000}, Hpa{0}, kEptRwx), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{0x1000}, hpa + 8, kEptRwx), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{0x1000}, Hpa::from_page(frames_.capacity_frames()), kEptRwx),
            P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{0x1000}, hpa, kEptWrite), P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.map(Gpa{0x1000}, hpa, kEptRwx, static_cast<EptMemType>(2)),
            P2mStatus::kInvalidArgument);
  EXPECT_EQ(p2m_.stats().mapped_pages, 0u);
  EXPECT_EQ(frames_.refcount(hpa), 1u);
  ASSERT_EQ(p2m_.map(Gpa{0x1000}, hpa, kEptExec, EptMemType::kUncacheable), P2mStatus::kOk);
  EXPECT_EQ(p2m_.inspect(Gpa{0x1000})->memtype, EptMemType::kUncacheable);
}

TEST_F(P2mTest, MapReportsExhaustion) {
  FrameStore frames(9 * kPageSize);  // 8 usable: root, 3 tables + page, then PT + page each
  P2m p2m(frames);
  P2mStatus status = P2mStatus::kOk;
  uint64_t mapped = 0;
  for (uint64_t i = 0; status == P2mStatus::kOk; ++i) {
    const std::optional<Hpa> page = frames.allocate();
    if (!page) break;
    status = p2m.map(Gpa{i * k2M}, *page, kEptRwx);  // each page needs a new PT
    if (status == P2mStatus::kOk) ++mapped;
    else frames.release(*page);
  }
  EXPECT_EQ(status, P2mStatus::kOutOfFrames);
  EXPECT_EQ(mapped, 2u);
}

TEST_F(P2mTest, IteratesMappingsInOrder) {
  const uint64_t gpas[] = {P2m::kGpaLimit - kPageSize, 0x1000, k512G, 0x5000};
  std::vector<std::pair<uint64_t, uint64_t>> expected;
  for (uint64_t gpa : gpas) expected.emplace_back(gpa, map_new(gpa, kEptRead).value());
  std::sort(expected.begin(), expected.end());

  std::vector<std::pair<uint64_t, uint64_t>> seen;
  p2m_.for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms perms) {
    EXPECT_EQ(perms, kEptRead);
    seen.emplace_back(gpa.value(), hpa.value());
  });
  EXPECT_EQ(seen, expected);

  seen.clear();
  p2m_.for_each_mapping(Gpa{0x2000}, Gpa{k512G + 1}, [&](Gpa gpa, Hpa hpa, EptPerms) {
    seen.emplace_back(gpa.value(), hpa.value());
  });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].first, 0x5000u);
  EXPECT_EQ(seen[1].first, k512G);
}

}  // namespace
}  // namespace densevm
