#include "mmu/shadow_mmu.h"

#include <gtest/gtest.h>

#include "mmu/nested_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/testing/test_guest.h"
#include "shadow-pt/shadow_entry.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

constexpr uint64_t kVa = 0x7F12'3456'7000;

class ShadowMmuTest : public ::testing::Test {
 protected:
  ShadowMmuTest() {
    mmu_.set_tlb_flush([this] { ++flushes_; });
  }
  void TearDown() override {
    const std::vector<std::string> problems = check_shadow(mmu_);
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  Translation tr(uint64_t va, Access access, bool user = false) {
    return mmu_.translate(Gva{va}, access, g_.ctx(user));
  }

  TestGuest g_;
  ShadowMmu mmu_{g_.memory, g_.tracking};
  NestedMmu nested_{g_.memory, g_.tracking};
  int flushes_ = 0;
};

TEST_F(ShadowMmuTest, HitTakesFourReferencesAfterOneFill) {
  g_.map(kVa, TestGuest::data_page(0), kP | kW | kU);
  const Translation first = tr(kVa + 0x123, Access::kRead, true);
  ASSERT_EQ(first.kind, Translation::Kind::kRam);
  EXPECT_EQ(first.gpa, Gpa{TestGuest::data_page(0)});
  EXPECT_EQ(first.host_page, g_.host_page(TestGuest::data_page(0)));
  EXPECT_EQ(mmu_.stats().sync_faults, 1u);
  const ShadowStats before = mmu_.stats();
  const Translation again = tr(kVa + 0x456, Access::kRead, true);
  ASSERT_EQ(again.kind, Translation::Kind::kRam);
  EXPECT_EQ(again.host_page, first.host_page);
  EXPECT_EQ(again.gpa, first.gpa);
  EXPECT_TRUE(again.user);
  EXPECT_EQ(mmu_.stats().shadow_hits, before.shadow_hits + 1);
  EXPECT_EQ(mmu_.stats().walk_refs() - before.walk_refs(), 4u);
  EXPECT_EQ(mmu_.stats().sync_faults, 1u);
}

TEST_F(ShadowMmuTest, AccessedAndDirtyAreEmulatedExactly) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);
  EXPECT_EQ(g_.read(pte) & (kA | kD), kA) << "a read sets A only";
  const X86Pte* leaf = mmu_.leaf_for_testing(Gva{kVa});
  ASSERT_NE(leaf, nullptr);
  EXPECT_TRUE(leaf->present());
  EXPECT_FALSE(shadow_write_capable(*leaf)) << "read-only in the shadow until the first write";
  ASSERT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kRam);
  EXPECT_EQ(g_.read(pte) & (kA | kD), kA | kD) << "the first write sets D";
  EXPECT_TRUE(leaf->writable());
  EXPECT_EQ(mmu_.stats().sync_faults, 2u);
  ASSERT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kRam);
  EXPECT_EQ(mmu_.stats().sync_faults, 2u) << "later writes hit the shadow";
  // Every upper guest entry on the path was used, so each got A.
  for (unsigned level = 4; level >= 2; --level) {
    EXPECT_NE(g_.read(g_.entry_gpa(kVa, level)) & kA, 0u) << "level " << level;
  }
}

TEST_F(ShadowMmuTest, ReadOfAGuestDirtyPageIsWritableOnlyOnceTheEptDirtyBitIsSet) {
  g_.map(kVa, TestGuest::data_page(0), kP | kW | kA | kD);
  // Giving the page its zeroed frame set EPT D (the host wrote it); dirty logging clears it.
  ASSERT_EQ(g_.memory.populate(Gpa{TestGuest::data_page(0)}), GuestMemory::Populate::kMapped);
  g_.memory.harvest_written(Gpa{0}, Gpa{TestGuest::kRamBytes}, [](Gpa) {});
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);
  EXPECT_FALSE(shadow_write_capable(*mmu_.leaf_for_testing(Gva{kVa}))) << "EPT D still clear";
  ASSERT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kRam);
  mmu_.invlpg(Gva{kVa}, g_.ctx());
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);
  EXPECT_TRUE(mmu_.leaf_for_testing(Gva{kVa})->writable()) << "guest D and EPT D both set";
}

TEST_F(ShadowMmuTest, GuestTablesAreWriteTrackedAndWritesDropDerivedEntries) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kRam);
  for (unsigned level = 4; level >= 1; --level) {
    const Gpa table = Gpa{g_.entry_gpa(kVa, level)}.page_base();
    EXPECT_NE(g_.tracking.reasons(table) & PageTracking::kPageTable, 0) << "level " << level;
  }
  g_.guest_write(pte, TestGuest::data_page(1) | kP | kW, mmu_);
  EXPECT_EQ(mmu_.stats().emulated_pt_writes, 1u);
  EXPECT_FALSE(mmu_.leaf_for_testing(Gva{kVa})->present());
  const Translation t = tr(kVa, Access::kRead);
  ASSERT_EQ(t.kind, Translation::Kind::kRam);
  EXPECT_EQ(t.gpa, Gpa{TestGuest::data_page(1)});
}

TEST_F(ShadowMmuTest, PageTableAliasIsReadOnlyAndReportsWrites) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP | kW);
  const uint64_t pt = Gpa{pte}.page_base().value();
  const uint64_t alias = 0x5000'0000;
  g_.map(alias, pt, kP | kW | kA | kD);
  ASSERT_EQ(tr(alias, Access::kWrite).kind, Translation::Kind::kRam);  // EPT D for the PT page
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);     // PT becomes shadowed
  const Translation w = tr(alias, Access::kWrite);
  ASSERT_EQ(w.kind, Translation::Kind::kRam);
  EXPECT_TRUE(w.write_tracked) << "the vCPU must report writes to a shadowed table";
  const X86Pte* leaf = mmu_.leaf_for_testing(Gva{alias});
  EXPECT_FALSE(leaf->writable());
  EXPECT_NE(leaf->raw() & kShadowWriteTracked, 0u);
  EXPECT_GE(flushes_, 1) << "soft-TLB write entries must go when tracking starts";
}

TEST_F(ShadowMmuTest, UpperLevelWriteDropsTheSubtree) {
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);
  const uint64_t tables_before = mmu_.stats().tables_live;
  EXPECT_EQ(tables_before, 4u);
  g_.guest_write(g_.entry_gpa(kVa, 3), 0, mmu_);  // unmap the PD
  EXPECT_EQ(mmu_.stats().tables_live, 2u) << "PD and PT shadows freed";
  EXPECT_EQ(g_.tracking.reasons(Gpa{g_.entry_gpa(kVa, 3)}) & PageTracking::kPageTable,
            PageTracking::kPageTable);
  const Translation t = tr(kVa, Access::kRead);
  ASSERT_EQ(t.kind, Translation::Kind::kPageFault);
  EXPECT_EQ(t.error_code, 0u);
}

TEST_F(ShadowMmuTest, LargePagesAreSplitIntoFourKilobyteLeaves) {
  g_.map(0x4000'0000, 0x20'0000, kP | kW, 2);          // 2 MiB
  g_.map(0x80'0000'0000, 0x0, kP | kW | kU, 3);        // 1 GiB
  for (const uint64_t va : {0x4000'0000ull, 0x401F'F123ull, 0x80'0000'0000ull, 0x80'1234'5678ull}) {
    for (const Access a : {Access::kRead, Access::kWrite, Access::kRead}) {
      const Translation s = tr(va, a);
      const Translation n = nested_.translate(Gva{va}, a, g_.ctx());
      ASSERT_EQ(s.kind, n.kind) << std::hex << va;
      EXPECT_EQ(s.host_page, n.host_page) << std::hex << va;
      EXPECT_EQ(s.gpa, n.gpa) << std::hex << va;
    }
  }
  EXPECT_GT(mmu_.stats().shadow_hits, 0u);
}

TEST_F(ShadowMmuTest, PageFaultErrorCodesMatchTheNestedWalk) {
  g_.map(0x1000, TestGuest::data_page(0), kP);               // supervisor, read-only
  g_.map(0x2000, TestGuest::data_page(1), kP | kU | kXd);    // user, no-execute
  g_.map(0x3000, TestGuest::data_page(2), kP | kW | kU | (uint64_t{1} << 50));  // reserved
  for (const uint64_t va : {0x1000ull, 0x2000ull, 0x3000ull, 0x4000ull, 0x1234'5678'9000ull}) {
    for (const Access a : {Access::kRead, Access::kWrite, Access::kExec}) {
      for (const bool user : {false, true}) {
        for (int repeat = 0; repeat < 2; ++repeat) {
          const Translation s = tr(va, a, user);
          const Translation n = nested_.translate(Gva{va}, a, g_.ctx(user));
          ASSERT_EQ(s.kind, n.kind) << std::hex << va << " " << int(a) << " " << user;
          EXPECT_EQ(s.error_code, n.error_code) << std::hex << va << " " << int(a) << " " << user;
        }
      }
    }
  }
}

TEST_F(ShadowMmuTest, SupervisorWritesIgnoreReadOnlyWithoutCr0Wp) {
  const uint64_t pte = g_.map(kVa, TestGuest::data_page(0), kP);
  PagingContext c = g_.ctx();
  c.wp = false;
  EXPECT_EQ(mmu_.translate(Gva{kVa}, Access::kWrite, c).kind, Translation::Kind::kRam);
  EXPECT_EQ(g_.read(pte) & kD, kD);
  EXPECT_EQ(tr(kVa, Access::kWrite).kind, Translation::Kind::kPageFault) << "WP=1 again";
}

TEST_F(ShadowMmuTest, InvlpgDropsTheEntryInEveryCachedRoot) {
  const uint64_t other = g_.new_table();
  g_.map(kVa, TestGuest::data_page(0), kP | kW);
  g_.map(kVa, TestGuest::data_page(1), kP | kW, 1, kP | kW | kU, other);
  ASSERT_EQ(tr(kVa, Access::kRead).kind, Translation::Kind::kRam);
  mmu_.cr3_loaded(g_.ctx(false, other));
  ASSERT_EQ(mmu_.translate(Gva{kVa}, Access::kRead, g_.ctx(false, other)).gpa,
            Gpa{TestGuest::data_page(1)});
  mmu_.invlpg(Gva{kVa}, g_.ctx(false, other));
  EXPECT_EQ(mmu_.stats().invlpg_drops, 2u);
  EXPECT_FALSE(mmu_.leaf_for_testing(Gva{kVa})->present());
  mmu_.cr3_loaded(g_.ctx());
  EXPECT_FALSE(mmu_.leaf_for_testing(Gva{kVa})->present());
}

TEST_F(ShadowMmuTest, RootCacheReusesRootsAndEvictsTheLeastRecentlyUsed) {
  ShadowMmu small(g_.memory, g_.tracking, ShadowConfig{.max_roots = 2});
  uint64_t roots[3];
  for (int i = 0; i < 3; ++i) {
    roots[i] = i == 0 ? g_.cr3 : g_.new_table();
    g_.map(kVa, TestGuest::data_page(i), kP | kW, 1, kP | kW | kU, roots[i]);
  }
  auto run = [&](int i) {
    small.cr3_loaded(g_.ctx(false, roots[i]));
    return small.translate(Gva{kVa}, Access::kRead, g_.ctx(false, roots[i]));
  };
  EXPECT_EQ(run(0).gpa, Gpa{TestGuest::data_page(0)});
  EXPECT_EQ(run(1).gpa, Gpa{TestGuest::data_page(1)});
  const uint64_t faults = small.stats().sync_faults;
  EXPECT_EQ(run(0).gpa, Gpa{TestGuest::data_page(0)});
  EXPECT_EQ(small.stats().sync_faults, faults) << "root 0 was cached: no walk";
  EXPECT_EQ(small.stats().root_hits, 1u);
  EXPECT_EQ(run(2).gpa, Gpa{TestGuest::data_page(2)});  // evicts root 1 (least recent)
  EXPECT_EQ(small.stats().root_evictions, 1u);
  EXPECT_EQ(small.stats().roots_cached, 2u);
  EXPECT_EQ(run(0).gpa, Gpa{TestGuest::data_page(0)});
  EXPECT_EQ(small.stats().root_hits, 2u);
  EXPECT_EQ(run(1).gpa, Gpa{TestGuest::data_page(1)});
  EXPECT_EQ(small.stats().root_misses, 4u);
  EXPECT_TRUE(check_shadow(small).empty());
}

TEST_F(ShadowMmuTest, TableBudgetBoundsMemoryAndStaysCorrect) {
  ShadowMmu small(g_.memory, g_.tracking, ShadowConfig{.max_tables = 8});
  for (uint64_t i = 0; i < 16; ++i) {
    g_.map((i << 30) | 0x1000, TestGuest::data_page(i), kP | kW);
  }
  for (int round = 0; round < 2; ++round) {
    for (uint64_t i = 0; i < 16; ++i) {
      const Translation t = small.translate(Gva{(i << 30) | 0x1000}, Access::kRead, g_.ctx());
      ASSERT_EQ(t.gpa, Gpa{TestGuest::data_page(i)});
      EXPECT_LE(small.stats().tables_live, 8u);
    }
  }
  EXPECT_GT(small.stats().rebuilds, 0u);
  EXPECT_TRUE(check_shadow(small).empty());
}

TEST_F(ShadowMmuTest, PagingOffIsIdentityThroughTheEpt) {
  PagingContext c = g_.ctx();
  c.paging = false;
  const Translation s = mmu_.translate(Gva{0x12'3456}, Access::kWrite, c);
  ASSERT_EQ(s.kind, Translation::Kind::kRam);
  EXPECT_EQ(s.gpa, Gpa{0x12'3000});
  EXPECT_EQ(mmu_.translate(Gva{0xFEE0'0000}, Access::kRead, c).kind, Translation::Kind::kMmio);
  EXPECT_EQ(mmu_.stats().tables_live, 0u);
}

// A VM's shadow tables come from its pool (its home NUMA node's), as its frames do: the
// hardware walks them on every TLB miss.
TEST(ShadowMmuPools, TablesComeFromTheVmsPool) {
  FrameStore frames({{.capacity_bytes = 16 << 20, .fallback = {1}}, {.capacity_bytes = 16 << 20, .fallback = {0}}});
  GuestMemory memory(frames, 4 << 20, /*pool=*/1);
  PageTracking tracking(memory.ram_bytes() >> kPageShift);
  ShadowMmu mmu(memory, tracking);
  const uint64_t before = frames.pool_stats(1).frames_resident;
  ShadowPageTables tables(frames, tracking, memory.frame_pool());
  const ShadowTable* direct = tables.create(/*gfn=*/0, /*level=*/1, /*direct=*/true, /*nxe=*/false, nullptr);
  ASSERT_NE(direct, nullptr);
  EXPECT_EQ(frames.pool_of(direct->frame), 1u);
  EXPECT_EQ(frames.pool_stats(1).frames_resident, before + 1);
  EXPECT_EQ(frames.pool_stats(0).frames_resident, 0u) << "nothing of this VM's in pool 0, P2M root included";
}

}  // namespace
}  // namespace densevm
