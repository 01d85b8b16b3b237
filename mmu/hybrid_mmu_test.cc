#include "mmu/hybrid_mmu.h"

#include <gtest/gtest.h>

#include "mmu/shadow_checker.h"
#include "mmu/testing/test_guest.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

TEST(HybridPolicyTest, ParsesTheMmuFlag) {
  EXPECT_EQ(parse_paging_mode("shadow"), PagingMode::kShadow);
  EXPECT_EQ(parse_paging_mode("ept"), PagingMode::kEpt);
  EXPECT_EQ(parse_paging_mode("auto"), PagingMode::kAuto);
  EXPECT_FALSE(parse_paging_mode("npt").has_value());
  EXPECT_STREQ(paging_mode_name(PagingMode::kAuto), "auto");
}

TEST(HybridPolicyTest, ComparesShadowUpkeepWithTheNestedWalksItSaves) {
  MmuPolicy policy(MmuPolicyConfig{});
  // 1000 misses: nested would cost 24000 references.
  const ShadowWindow cheap{1000, 4000 + 50 * 28, 20, 10};
  EXPECT_EQ(policy.after_shadow_window(cheap), MmuPolicy::Decision::kStay);
  const ShadowWindow churn{1000, 1000 * 28, 1000, 0};
  EXPECT_EQ(policy.after_shadow_window(churn), MmuPolicy::Decision::kToNested);
}

TEST(HybridPolicyTest, RetriesShadowWithExponentialBackoff) {
  MmuPolicy policy(MmuPolicyConfig{.min_nested_windows = 2, .max_nested_windows = 8});
  const ShadowWindow bad{100, 100 * 28, 100, 0};
  const ShadowWindow good{100, 400, 0, 0};
  auto nested_windows_until_retry = [&] {
    int n = 1;
    while (policy.after_nested_window() == MmuPolicy::Decision::kStay) ++n;
    return n;
  };
  ASSERT_EQ(policy.after_shadow_window(bad), MmuPolicy::Decision::kToNested);
  EXPECT_EQ(nested_windows_until_retry(), 2);
  ASSERT_EQ(policy.after_shadow_window(bad), MmuPolicy::Decision::kToNested);
  EXPECT_EQ(nested_windows_until_retry(), 4);
  ASSERT_EQ(policy.after_shadow_window(bad), MmuPolicy::Decision::kToNested);
  EXPECT_EQ(nested_windows_until_retry(), 8);
  ASSERT_EQ(policy.after_shadow_window(bad), MmuPolicy::Decision::kToNested);
  EXPECT_EQ(nested_windows_until_retry(), 8) << "capped";
  ASSERT_EQ(policy.after_shadow_window(good), MmuPolicy::Decision::kStay);
  ASSERT_EQ(policy.after_shadow_window(bad), MmuPolicy::Decision::kToNested);
  EXPECT_EQ(nested_windows_until_retry(), 2) << "a good window resets the back-off";
}

class HybridMmuTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kVa = 0x10'0000'0000;

  HybridMmu make(PagingMode mode) {
    return HybridMmu(g_.memory, g_.tracking, mode, ShadowConfig{},
                     MmuPolicyConfig{.window_misses = 64, .min_nested_windows = 2});
  }
  // Page-table churn: each step remaps a page and touches it, so every miss costs a
  // guest walk and a trapped write in shadow mode.
  void churn(HybridMmu& mmu, int steps) {
    const uint64_t pte = g_.entry_gpa(kVa, 1);
    for (int i = 0; i < steps; ++i) {
      const uint64_t page = TestGuest::data_page(static_cast<uint64_t>(i % 4));
      g_.guest_write(pte, page | kP | kW, mmu);
      mmu.invlpg(Gva{kVa}, g_.ctx());
      const Translation t = mmu.translate(Gva{kVa}, Access::kRead, g_.ctx());
      ASSERT_EQ(t.kind, Translation::Kind::kRam);
      ASSERT_EQ(t.gpa, Gpa{page});
    }
  }
  // Stable mappings touched over and over: shadow hits.
  void steady(HybridMmu& mmu, int steps) {
    for (int i = 0; i < steps; ++i) {
      const uint64_t va = kVa + 0x20'0000 + kPageSize * static_cast<uint64_t>(i % 16);
      ASSERT_EQ(mmu.translate(Gva{va}, Access::kRead, g_.ctx()).kind, Translation::Kind::kRam);
    }
  }
  void SetUp() override {
    g_.map(kVa, TestGuest::data_page(0), kP | kW);
    for (uint64_t i = 0; i < 16; ++i) {
      g_.map(kVa + 0x20'0000 + kPageSize * i, TestGuest::data_page(8 + i), kP | kW);
    }
  }

  TestGuest g_;
};

TEST_F(HybridMmuTest, PinnedModesNeverSwitch) {
  for (const PagingMode mode : {PagingMode::kShadow, PagingMode::kEpt}) {
    HybridMmu mmu = make(mode);
    churn(mmu, 400);
    EXPECT_EQ(mmu.stats().mode_switches, 0u);
    EXPECT_STREQ(mmu.mode_name(), mode == PagingMode::kShadow ? "shadow" : "ept");
  }
}

TEST_F(HybridMmuTest, SteadyMappingsStayInShadowAtFourReferencesPerMiss) {
  HybridMmu mmu = make(PagingMode::kAuto);
  steady(mmu, 2000);
  EXPECT_TRUE(mmu.shadow_active());
  EXPECT_EQ(mmu.stats().mode_switches, 0u);
  const ShadowStats s = mmu.shadow_stats();
  EXPECT_EQ(s.shadow_hits, 2000u - 16u);
  EXPECT_LT(mmu.stats().walk_refs, 2000u * 5) << "about 4 per miss, against 24 nested";
}

TEST_F(HybridMmuTest, ChurnFallsBackToNestedAndShadowIsRetriedLater) {
  HybridMmu mmu = make(PagingMode::kAuto);
  int flushes = 0;
  mmu.set_tlb_flush([&flushes] { ++flushes; });
  churn(mmu, 64);
  EXPECT_FALSE(mmu.shadow_active()) << "upkeep cost more than nested walks";
  EXPECT_STREQ(mmu.mode_name(), "ept");
  EXPECT_EQ(mmu.stats().mode_switches, 1u);
  EXPECT_GE(flushes, 1);
  EXPECT_EQ(mmu.shadow_stats().tables_live, 0u);
  EXPECT_EQ(g_.tracking.reasons(Gpa{g_.entry_gpa(kVa, 1)}) & PageTracking::kPageTable, 0)
      << "nested mode tracks no guest tables";
  churn(mmu, 2 * 64);
  EXPECT_TRUE(mmu.shadow_active()) << "retried after the back-off";
  churn(mmu, 64);
  EXPECT_FALSE(mmu.shadow_active()) << "still churning: back to nested, back-off doubled";
  EXPECT_EQ(mmu.stats().mode_switches, 3u);
  churn(mmu, 4 * 64);
  ASSERT_TRUE(mmu.shadow_active());
  steady(mmu, 64);
  EXPECT_TRUE(mmu.shadow_active()) << "the churn is over: shadow holds";
  EXPECT_TRUE(check_shadow(mmu.shadow()).empty());
}

TEST_F(HybridMmuTest, TheSameRunSwitchesAtTheSameMisses) {
  uint64_t switches[2];
  for (int run = 0; run < 2; ++run) {
    TestGuest g;
    g.map(kVa, TestGuest::data_page(0), kP | kW);
    HybridMmu mmu(g.memory, g.tracking, PagingMode::kAuto, ShadowConfig{},
                  MmuPolicyConfig{.window_misses = 64, .min_nested_windows = 2});
    for (int i = 0; i < 1000; ++i) {
      g.guest_write(g.entry_gpa(kVa, 1), TestGuest::data_page(static_cast<uint64_t>(i % 3)) | kP, mmu);
      (void)mmu.translate(Gva{kVa}, Access::kRead, g.ctx());
    }
    switches[run] = mmu.stats().mode_switches;
  }
  EXPECT_GT(switches[0], 2u);
  EXPECT_EQ(switches[0], switches[1]);
}

}  // namespace
}  // namespace densevm
