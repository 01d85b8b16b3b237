// Keeping the shadow in step: out-of-sync leaf tables, write flooding, EPT changes through
// the reverse map, and the checker itself.
#include <gtest/gtest.h>

#include <cstring>

#include "mmu/nested_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/shadow_mmu.h"
#include "mmu/testing/test_guest.h"
#include "shadow-pt/shadow_entry.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

constexpr uint64_t kVa = 0x40'0000'0000;

class ShadowSyncTest : public ::testing::Test {
 protected:
  ShadowSyncTest() { mmu_.set_tlb_flush([this] { ++flushes_; }); }
  void TearDown() override {
    const std::vector<std::string> problems = check_shadow(mmu_);
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  Translation tr(uint64_t va, Access access = Access::kRead) {
    return mmu_.translate(Gva{va}, access, g_.ctx());
  }
  bool pt_tracked(uint64_t gpa) {
    return (g_.tracking.reasons(Gpa{gpa}) & PageTracking::kPageTable) != 0;
  }

  TestGuest g_;
  ShadowMmu mmu_{g_.memory, g_.tracking};
  int flushes_ = 0;
};

TEST_F(ShadowSyncTest, LeafTableWrittenOftenGoesUnsyncAndResyncsAtInvlpg) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa).gpa, Gpa{TestGuest::data_page(0)});
  g_.guest_write(pte + 8, TestGuest::data_page(1) | kP, mmu_);
  g_.guest_write(pte + 16, TestGuest::data_page(2) | kP, mmu_);
  EXPECT_EQ(mmu_.stats().unsyncs, 1u);
  EXPECT_FALSE(pt_tracked(pte)) << "an out-of-sync table is no longer write-tracked";
  EXPECT_TRUE(pt_tracked(g_.entry_gpa(kVa, 2))) << "upper levels always stay protected";
  g_.guest_write(pte, TestGuest::data_page(3) | kP | kW, mmu_);
  EXPECT_EQ(mmu_.stats().emulated_pt_writes, 2u) << "the third write was not trapped";
  EXPECT_EQ(tr(kVa).gpa, Gpa{TestGuest::data_page(0)}) << "stale until the guest flushes";
  mmu_.invlpg(Gva{kVa}, g_.ctx());
  EXPECT_EQ(mmu_.stats().unsync_resyncs, 1u);
  EXPECT_EQ(tr(kVa).gpa, Gpa{TestGuest::data_page(3)});
  EXPECT_EQ(tr(kVa + 0x1000).gpa, Gpa{TestGuest::data_page(1)});
}

TEST_F(ShadowSyncTest, Cr3LoadResyncsEveryUnsyncTableAndProtectsItAgain) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  g_.map(kVa + 0x1000, TestGuest::data_page(1), kP | kW);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  g_.guest_write(pte + 16, 0, mmu_);
  g_.guest_write(pte + 24, 0, mmu_);
  ASSERT_FALSE(pt_tracked(pte));
  ASSERT_EQ(tr(kVa + 0x1000).gpa, Gpa{TestGuest::data_page(1)});
  g_.guest_write(pte + 8, 0, mmu_);                      // unmapped, not reported
  g_.guest_write(pte, TestGuest::data_page(5) | kP, mmu_);  // remapped, not reported
  mmu_.cr3_loaded(g_.ctx());
  EXPECT_TRUE(pt_tracked(pte));
  EXPECT_GE(mmu_.stats().unsync_resyncs, 1u);
  EXPECT_EQ(tr(kVa + 0x1000).kind, Translation::Kind::kPageFault);
  EXPECT_EQ(tr(kVa).gpa, Gpa{TestGuest::data_page(5)});
  g_.guest_write(pte, 0, mmu_);
  EXPECT_EQ(mmu_.stats().emulated_pt_writes, 3u) << "trapped again after the resync";
}

TEST_F(ShadowSyncTest, UpperTablesAreFloodUnshadowedNeverUnsynced) {
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  const uint64_t pde = g_.entry_gpa(kVa, 2);
  for (int i = 1; i <= 3; ++i) g_.guest_write(pde + 8 * static_cast<uint64_t>(i), 0, mmu_);
  EXPECT_EQ(mmu_.stats().unsyncs, 0u);
  EXPECT_EQ(mmu_.stats().flood_unshadows, 1u);
  EXPECT_FALSE(pt_tracked(pde)) << "a flooded table is not a table any more";
  EXPECT_EQ(mmu_.stats().tables_live, 2u) << "PML4 and PDPT remain";
  ASSERT_EQ(tr(kVa).gpa, Gpa{TestGuest::data_page(0)});
  EXPECT_TRUE(pt_tracked(pde)) << "shadowed (and protected) again once walked";
}

TEST_F(ShadowSyncTest, WalksThroughATableResetTheFloodCount) {
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  const uint64_t pde = g_.entry_gpa(kVa, 2);
  for (int i = 1; i <= 6; ++i) {
    ASSERT_EQ(tr(kVa + kPageSize * static_cast<uint64_t>(i)).kind, Translation::Kind::kPageFault);
    g_.guest_write(pde + 8 * static_cast<uint64_t>(i), 0, mmu_);
  }
  EXPECT_EQ(mmu_.stats().flood_unshadows, 0u);
}

TEST_F(ShadowSyncTest, ReusedLeafTableIsUnshadowedWhenUnsyncIsOff) {
  ShadowMmu strict(g_.memory, g_.tracking, ShadowConfig{.unsync_after_writes = 0});
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(strict.translate(Gva{kVa}, Access::kRead, g_.ctx()).kind, Translation::Kind::kRam);
  for (uint64_t i = 0; i < 3; ++i) g_.guest_write(pte + 8 * i, 0x1234'5678, strict);
  EXPECT_EQ(strict.stats().flood_unshadows, 1u);
  EXPECT_FALSE(pt_tracked(pte));
  EXPECT_TRUE(check_shadow(strict).empty());
}

TEST_F(ShadowSyncTest, EptUnmapDropsExactlyTheLeavesMappingThePage) {
  const uint64_t other = g_.new_table();
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  g_.map(kVa + 0x1000, TestGuest::data_page(0), kP | kW);  // alias
  g_.map(kVa + 0x2000, TestGuest::data_page(1), kP | kW);
  g_.map(kVa, TestGuest::data_page(0), kP | kW, 1, kP | kW | kU, other);
  for (const uint64_t va : {kVa, kVa + 0x1000, kVa + 0x2000}) {
    ASSERT_EQ(tr(va).kind, Translation::Kind::kRam);
  }
  ASSERT_EQ(mmu_.translate(Gva{kVa}, Access::kRead, g_.ctx(false, other)).kind,
            Translation::Kind::kRam);
  mmu_.cr3_loaded(g_.ctx());
  const int flushes = flushes_;
  (void)g_.memory.drop(Gpa{TestGuest::data_page(0)});
  EXPECT_EQ(mmu_.stats().rmap_invalidations, 3u);
  EXPECT_GT(flushes_, flushes) << "the vCPU's soft TLB must be flushed";
  EXPECT_FALSE(mmu_.leaf_for_testing(Gva{kVa})->present());
  EXPECT_TRUE(mmu_.leaf_for_testing(Gva{kVa + 0x2000})->present());
  const Translation t = tr(kVa);
  ASSERT_EQ(t.kind, Translation::Kind::kRam);
  EXPECT_EQ(t.host_page, g_.host_page(TestGuest::data_page(0))) << "the new frame";
}

TEST_F(ShadowSyncTest, EptProtectTakesWriteAwayAndCopyOnWriteGivesItBack) {
  NestedMmu nested(g_.memory, g_.tracking);
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kRam);
  ASSERT_TRUE(mmu_.leaf_for_testing(Gva{kVa})->writable());
  const Gpa page{TestGuest::data_page(0)};
  ASSERT_EQ(g_.memory.p2m_for_testing().protect(page, page + kPageSize, kEptRead), P2mStatus::kOk);
  EXPECT_EQ(mmu_.stats().rmap_invalidations, 1u);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  EXPECT_FALSE(shadow_write_capable(*mmu_.leaf_for_testing(Gva{kVa})));
  EXPECT_EQ(tr(kVa, Access::kExec).kind, nested.translate(Gva{kVa}, Access::kExec, g_.ctx()).kind);
  const Translation w = tr(kVa, Access::kWrite);
  ASSERT_EQ(w.kind, Translation::Kind::kRam);
  EXPECT_EQ(g_.memory.cow_breaks(), 1u);
}

// The checkpoint's change: the top-level EPT entry made read+execute over all of RAM. It
// must not cost a lookup per shadowed page: every table is retired at once, the new shadow
// is built from fresh walks (which break copy-on-write of the guest's tables and pages), and
// the fills that follow free the retired tables.
TEST_F(ShadowSyncTest, WideEptRestrictionRetiresEveryTableAtOnceAndFillsFreeThem) {
  constexpr uint64_t kPages = 1024;  // two leaf tables
  const uint64_t other = g_.new_table();
  for (uint64_t i = 0; i < kPages; ++i) g_.map(kVa + i * kPageSize, TestGuest::data_page(i), kP | kW);
  g_.map(kVa, TestGuest::data_page(0), kP | kW, 1, kP | kW | kU, other);
  for (uint64_t i = 0; i < kPages; ++i) ASSERT_EQ(tr(kVa + i * kPageSize, Access::kWrite).kind, Translation::Kind::kRam);
  ASSERT_EQ(mmu_.translate(Gva{kVa}, Access::kRead, g_.ctx(false, other)).kind, Translation::Kind::kRam);
  const uint64_t other_pt = Gpa{g_.entry_gpa(kVa, 1, other)}.page_base().value();
  ASSERT_TRUE(pt_tracked(other_pt));
  const ShadowStats before = mmu_.stats();
  const int flushes = flushes_;

  g_.memory.write_protect_all();
  ShadowStats s = mmu_.stats();
  EXPECT_EQ(s.retirements, 1u);
  EXPECT_EQ(s.rmap_invalidations, before.rmap_invalidations) << "no leaf looked up one by one";
  EXPECT_TRUE(mmu_.tables().has_retired());
  EXPECT_EQ(s.tables_live, before.tables_live) << "nothing freed yet";
  EXPECT_EQ(s.tables_reclaimed, 0u);
  EXPECT_EQ(mmu_.leaf_for_testing(Gva{kVa}), nullptr) << "the current root starts empty";
  EXPECT_GT(flushes_, flushes);
  EXPECT_TRUE(check_shadow(mmu_).empty());
  // Writes to a guest table whose shadows are all retired flood nothing.
  for (uint64_t i = 1; i <= 3; ++i) g_.guest_write(other + 8 * i, 0, mmu_);
  EXPECT_EQ(mmu_.stats().flood_unshadows, before.flood_unshadows);

  // A retired shadow is never used nor kept in step: a guest write to a table whose only
  // shadows are retired changes what the next walk sees.
  const uint64_t pte = g_.entry_gpa(kVa + kPageSize, 1);
  g_.guest_write(pte, TestGuest::data_page(kPages) | kP | kW, mmu_);
  const Translation moved = tr(kVa + kPageSize, Access::kWrite);
  ASSERT_EQ(moved.kind, Translation::Kind::kRam);
  EXPECT_EQ(moved.gpa, Gpa{TestGuest::data_page(kPages)});
  EXPECT_GT(g_.memory.cow_breaks(), 0u) << "writes after the restriction copy the page";
  for (uint64_t i = 0; i < kPages; ++i) {
    const Translation t = tr(kVa + i * kPageSize, Access::kWrite);
    ASSERT_EQ(t.kind, Translation::Kind::kRam);
    ASSERT_EQ(t.gpa, Gpa{TestGuest::data_page(i == 1 ? kPages : i)});
  }
  s = mmu_.stats();
  EXPECT_FALSE(mmu_.tables().has_retired()) << "a fill frees a retired table";
  EXPECT_EQ(s.tables_reclaimed, before.tables_live);
  EXPECT_FALSE(pt_tracked(other_pt)) << "the other root's tables left with their shadows";
  EXPECT_TRUE(pt_tracked(Gpa{g_.entry_gpa(kVa, 1)}.page_base().value()));
  EXPECT_TRUE(check_shadow(mmu_).empty());
}

TEST_F(ShadowSyncTest, LeavingShadowModeFreesRetiredTablesToo) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  g_.memory.write_protect_all();
  ASSERT_TRUE(mmu_.tables().has_retired());
  mmu_.drop_all();
  EXPECT_EQ(mmu_.stats().tables_live, 0u);
  EXPECT_FALSE(mmu_.tables().has_retired());
  EXPECT_FALSE(pt_tracked(pte)) << "no guest table stays write-tracked without a shadow";
}

// A rollback puts back the guest's page-table pages as they were: unshadowing an upper
// table must not free its whole subtree on the spot (a PML4's is the whole address space).
TEST_F(ShadowSyncTest, NewContentsInAnUpperGuestTableRetireItsSubtreeForLater) {
  for (uint64_t i = 0; i < 1024; ++i) g_.map(kVa + i * kPageSize, TestGuest::data_page(i), kP | kW);
  for (uint64_t i = 0; i < 1024; ++i) ASSERT_EQ(tr(kVa + i * kPageSize).kind, Translation::Kind::kRam);
  const uint64_t live = mmu_.stats().tables_live;  // PML4, PDPT, PD, 2 PTs
  const Gpa pd = Gpa{g_.entry_gpa(kVa, 2)}.page_base();
  std::optional<Hpa> copy = g_.memory.frames().allocate();
  ASSERT_TRUE(copy);
  std::memcpy(g_.memory.frames().host_ptr(*copy), g_.host_page(pd.value()), kPageSize);
  ASSERT_EQ(g_.memory.p2m_for_testing().map(pd, *copy, kEptRwx), P2mStatus::kOk);  // same bytes, new frame
  ShadowStats s = mmu_.stats();
  EXPECT_EQ(s.tables_live, live) << "retired, not freed";
  EXPECT_TRUE(mmu_.tables().has_retired());
  EXPECT_EQ(s.retirements, 0u) << "only the PD's subtree";
  EXPECT_TRUE(pt_tracked(pd.value())) << "the retired PD shadow still holds it";
  for (uint64_t i = 0; i < 1024; ++i) ASSERT_EQ(tr(kVa + i * kPageSize).gpa, Gpa{TestGuest::data_page(i)});
  s = mmu_.stats();
  EXPECT_FALSE(mmu_.tables().has_retired());
  EXPECT_EQ(s.tables_reclaimed, 3u) << "the old PD and its two PTs";
  EXPECT_EQ(s.tables_live, live);
  EXPECT_TRUE(pt_tracked(pd.value())) << "shadowed again";
}

TEST_F(ShadowSyncTest, EptChangeOfAGuestTablePageUnshadowsIt) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  (void)g_.memory.drop(Gpa{pte}.page_base());  // comes back as a zeroed page
  EXPECT_TRUE(mmu_.tables().has_retired()) << "its shadow is retired, freed by the next fill";
  EXPECT_EQ(tr(kVa).kind, Translation::Kind::kPageFault);
  EXPECT_FALSE(mmu_.tables().has_retired());
  EXPECT_FALSE(pt_tracked(pte));
}

TEST_F(ShadowSyncTest, CheckerCatchesCorruptedEntries) {
  g_.map(kVa, TestGuest::data_page(0), kP);
  g_.map(kVa + 0x1000, TestGuest::data_page(1), kP | kW);
  ASSERT_EQ(tr(kVa).kind, Translation::Kind::kRam);
  ASSERT_EQ(tr(kVa + 0x1000).kind, Translation::Kind::kRam);
  ASSERT_TRUE(check_shadow(mmu_).empty());
  X86Pte* leaf = mmu_.leaf_for_testing(Gva{kVa});
  const X86Pte good = *leaf;
  leaf->set(X86Pte::kWritable);  // writable where the guest says read-only
  EXPECT_FALSE(check_shadow(mmu_).empty());
  const Hpa other = mmu_.leaf_for_testing(Gva{kVa + 0x1000})->frame();
  *leaf = X86Pte((good.raw() & ~X86Pte::kAddressMask) | other.value());
  const std::vector<std::string> problems = check_shadow(mmu_);
  ASSERT_FALSE(problems.empty()) << "a leaf pointing at another page's frame";
  EXPECT_NE(problems.front().find("0x4000000000"), std::string::npos) << problems.front();
  *leaf = good;
  g_.tracking.clear(Gpa{g_.entry_gpa(kVa, 3)}.page_base(), PageTracking::kPageTable);
  EXPECT_FALSE(check_shadow(mmu_).empty()) << "a shadowed table that writes do not reach";
  g_.tracking.set(Gpa{g_.entry_gpa(kVa, 3)}.page_base(), PageTracking::kPageTable);
}

}  // namespace
}  // namespace densevm
