#include "balloon/balloon_policy.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

constexpr uint64_t kMiB = 256;  // pages

TEST(BalloonPolicy, WithoutBudgetAllocationsAreTheCaps) {
  const std::vector<uint64_t> a =
      allocate_memory({}, {{.ram_pages = 512 * kMiB, .cap_pages = 64 * kMiB},
                           {.ram_pages = 512 * kMiB, .cap_pages = 512 * kMiB}});
  EXPECT_EQ(a, (std::vector<uint64_t>{64 * kMiB, 512 * kMiB}));
}

TEST(BalloonPolicy, IdleMemoryIsTaxedFirst) {
  // Both use 300 MiB; A's is all active, B's all idle. 300 MiB must go.
  const BalloonVmView active{512 * kMiB, 512 * kMiB, 316 * kMiB, 300 * kMiB};
  const BalloonVmView idle{512 * kMiB, 512 * kMiB, 316 * kMiB, 0};
  const std::vector<uint64_t> a =
      allocate_memory({.host_budget_pages = 724 * kMiB}, {active, idle});
  EXPECT_EQ(a[0] + a[1], 724 * kMiB);
  EXPECT_EQ(a[1], 316 * kMiB) << "the idle VM gives everything down to its floor";
  EXPECT_EQ(a[0], 408 * kMiB);
}

TEST(BalloonPolicy, FloorsWinOverTheBudget) {
  const std::vector<uint64_t> a = allocate_memory(
      {.host_budget_pages = 100 * kMiB}, {{512 * kMiB, 512 * kMiB, 200 * kMiB, 0}});
  EXPECT_EQ(a[0], 200 * kMiB);
}

TEST(BalloonPolicy, IsDeterministic) {
  const std::vector<BalloonVmView> vms = {{512 * kMiB, 512 * kMiB, 40 * kMiB, 10 * kMiB},
                                          {512 * kMiB, 512 * kMiB, 40 * kMiB, 10 * kMiB},
                                          {256 * kMiB, 256 * kMiB, 40 * kMiB, 100 * kMiB}};
  const BalloonPolicyConfig c{.host_budget_pages = 600 * kMiB};
  EXPECT_EQ(allocate_memory(c, vms), allocate_memory(c, vms));
  uint64_t sum = 0;
  for (uint64_t x : allocate_memory(c, vms)) sum += x;
  EXPECT_EQ(sum, 600 * kMiB);
}

TEST(BalloonPolicy, SetsDeviceTargetsAndRespectsGuestsWithoutStatistics) {
  FrameStore frames(uint64_t{256} << 20);
  GuestMemory a(frames, uint64_t{64} << 20), b(frames, uint64_t{64} << 20);
  BalloonDevice da(a), db(b);
  BalloonPolicy capped({});
  capped.add(a, da, 16 * kMiB);
  capped.step();
  EXPECT_EQ(da.stats().target_pages, 48 * kMiB);

  BalloonPolicy budget({.host_budget_pages = 64 * kMiB});
  budget.add(b, db, std::nullopt);
  budget.step();
  EXPECT_EQ(db.stats().target_pages, 0u) << "no statistics yet: no target";
}

}  // namespace
}  // namespace densevm
