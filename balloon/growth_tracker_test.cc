#include "balloon/growth_tracker.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

constexpr uint64_t kSlack = 256;

GuestSample steady(uint64_t stats_updates) {
  return {.stats_updates = stats_updates, .used_pages = 10'000, .actual_pages = 0,
          .target_pages = 0, .deflated_total = 0};
}

TEST(GrowthTracker, FirstLookHoldsThenASteadyGuestIsReleasedAfterTheHold) {
  GrowthTracker g(/*hold_rounds=*/2, kSlack);
  EXPECT_TRUE(g.observe(steady(1)).held) << "no trend yet";
  EXPECT_TRUE(g.observe(steady(2)).held);
  EXPECT_TRUE(g.observe(steady(3)).held);
  EXPECT_FALSE(g.observe(steady(4)).held);
  EXPECT_FALSE(g.observe(steady(5)).held);
  EXPECT_EQ(g.growth_rounds(), 1u);
}

TEST(GrowthTracker, StaleStatisticsDoNotCountDownTheHold) {
  GrowthTracker g(1, kSlack);
  EXPECT_TRUE(g.observe(steady(1)).held);
  EXPECT_TRUE(g.observe(steady(1)).held) << "the same report again: nothing new learnt";
  EXPECT_TRUE(g.observe(steady(2)).held);
  EXPECT_FALSE(g.observe(steady(3)).held);
}

TEST(GrowthTracker, UseAboveTheSlackIsGrowth) {
  GrowthTracker g(0, kSlack);
  (void)g.observe(steady(1));
  GuestSample s = steady(2);
  s.used_pages += kSlack;
  EXPECT_FALSE(g.observe(s).held) << "within the slack";
  s.stats_updates = 3;
  s.used_pages += kSlack + 1;
  const GrowthTracker::Verdict v = g.observe(s);
  EXPECT_TRUE(v.held);
  EXPECT_EQ(v.grown_pages, kSlack + 1);
  s.stats_updates = 4;
  EXPECT_FALSE(g.observe(s).held);
  EXPECT_EQ(g.growth_rounds(), 2u);
}

TEST(GrowthTracker, DeflatesOnItsOwnAreGrowthDeflatesTheTargetAskedForAreNot) {
  GrowthTracker g(0, kSlack);
  GuestSample s{.stats_updates = 1, .used_pages = 1000, .actual_pages = 50'000,
                .target_pages = 50'000, .deflated_total = 0};
  (void)g.observe(s);
  // The host lowered the target by 8192; the driver followed exactly.
  s = {.stats_updates = 2, .used_pages = 1000, .actual_pages = 41'808, .target_pages = 41'808,
       .deflated_total = 8192};
  EXPECT_FALSE(g.observe(s).held);
  // The target stayed; the guest ran out of memory and took 256 pages back, twice.
  s = {.stats_updates = 2, .used_pages = 1000, .actual_pages = 41'296, .target_pages = 41'808,
       .deflated_total = 8704};
  const GrowthTracker::Verdict v = g.observe(s);
  EXPECT_TRUE(v.held) << "even without fresh statistics";
  EXPECT_EQ(v.grown_pages, 512u);
  EXPECT_EQ(g.growth_rounds(), 2u);
}

}  // namespace
}  // namespace densevm
