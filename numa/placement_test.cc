#include "numa/placement.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(NumaSetting, ParsesEveryFormAndRefusesTheRest) {
  EXPECT_EQ(NumaSetting::parse("auto")->mode, NumaMode::kAuto);
  EXPECT_EQ(NumaSetting::parse("off")->mode, NumaMode::kOff);
  EXPECT_EQ(NumaSetting::parse("interleave")->mode, NumaMode::kInterleave);
  const std::optional<NumaSetting> node = NumaSetting::parse("node:3");
  ASSERT_TRUE(node);
  EXPECT_EQ(node->mode, NumaMode::kNode);
  EXPECT_EQ(node->node, 3);
  EXPECT_EQ(node->name(), "node:3");
  for (const char* bad : {"", "node:", "node:-1", "node:x", "node:12345", "Auto", "node 1", "nodes:1"}) {
    EXPECT_FALSE(NumaSetting::parse(bad)) << bad;
  }
}

TEST(NumaPlacement, AutoAlternatesEqualVmsOverTwoNodes) {
  NumaPlacement numa(Topology::uniform(2, 4 * kGiB, 2), *NumaSetting::parse("auto"));
  EXPECT_TRUE(numa.by_node());
  std::vector<uint32_t> homes;
  for (int k = 0; k < 4; ++k) homes.push_back(*numa.place(256 * kMiB));
  EXPECT_EQ(homes, (std::vector<uint32_t>{0, 1, 0, 1}));
  EXPECT_EQ(numa.vms_on(0), 2u);
  EXPECT_EQ(numa.vms_on(1), 2u);
}

TEST(NumaPlacement, AutoPrefersTheNodeWithMoreFreeMemoryAmongEquallyLoaded) {
  Topology t = Topology::uniform(4, 4 * kGiB, 1);
  t.nodes[0].free_bytes = 1 * kGiB;
  t.nodes[2].free_bytes = 3 * kGiB;
  t.nodes[3].free_bytes = 2 * kGiB;
  NumaPlacement numa(t, *NumaSetting::parse("auto"));
  EXPECT_EQ(*numa.place(512 * kMiB), 1u);  // 4 GiB free
  EXPECT_EQ(*numa.place(512 * kMiB), 2u);  // 3 GiB, the nodes with no VM first
  EXPECT_EQ(*numa.place(512 * kMiB), 3u);
  EXPECT_EQ(*numa.place(512 * kMiB), 0u);
  // Every node has one VM: the most memory left is node 1's 3.5 GiB.
  EXPECT_EQ(*numa.place(512 * kMiB), 1u);
}

TEST(NumaPlacement, AutoSkipsANodeTheVmDoesNotFitThenTakesTheRoomiestWhenNoneFits) {
  Topology t = Topology::uniform(2, 1 * kGiB, 1);
  t.nodes[0].free_bytes = 256 * kMiB;
  NumaPlacement numa(t, *NumaSetting::parse("auto"));
  EXPECT_EQ(*numa.place(512 * kMiB), 1u);
  EXPECT_EQ(*numa.place(512 * kMiB), 1u);  // node 0 holds no 512 MiB, even with no VM
  EXPECT_EQ(*numa.place(512 * kMiB), 0u);  // neither holds it: 256 MiB left beats 0
}

TEST(NumaPlacement, NodeSettingHomesEveryVmThereAndWantedOverridesAuto) {
  NumaPlacement pinned(Topology::uniform(4, 4 * kGiB, 1), *NumaSetting::parse("node:2"));
  for (int k = 0; k < 3; ++k) EXPECT_EQ(*pinned.place(kGiB), 2u);
  EXPECT_EQ(*pinned.place(kGiB, 3), 3u);  // a per-VM choice wins
  NumaPlacement automatic(Topology::uniform(4, 4 * kGiB, 1), *NumaSetting::parse("auto"));
  EXPECT_EQ(*automatic.place(kGiB, 3), 3u);
  EXPECT_EQ(*automatic.place(kGiB), 0u);
  EXPECT_THROW((void)automatic.place(kGiB, 4), std::invalid_argument);
  EXPECT_THROW((void)automatic.place(kGiB, std::nullopt, 4), std::invalid_argument);
}

TEST(NumaPlacement, WhereASnapshotWasCountsWithAutoWhileItHasRoomOnly) {
  NumaPlacement automatic(Topology::uniform(2, 2 * kGiB, 1), *NumaSetting::parse("auto"));
  EXPECT_EQ(*automatic.place(kGiB, std::nullopt, 1), 1u);
  EXPECT_EQ(*automatic.place(kGiB, std::nullopt, 1), 1u);
  EXPECT_EQ(*automatic.place(kGiB, std::nullopt, 1), 0u) << "node 1 is full";
  NumaPlacement pinned(Topology::uniform(2, 2 * kGiB, 1), *NumaSetting::parse("node:0"));
  EXPECT_EQ(*pinned.place(kGiB, std::nullopt, 1), 0u) << "node:N wins over where it was";
  EXPECT_EQ(*pinned.place(kGiB, 1, 0), 1u) << "a per-VM choice wins over both";
}

TEST(NumaPlacement, OffAndInterleaveGiveNoHomeAndOnePool) {
  for (const char* s : {"off", "interleave"}) {
    NumaPlacement numa(Topology::uniform(2, 4 * kGiB, 1), *NumaSetting::parse(s));
    EXPECT_FALSE(numa.by_node());
    EXPECT_FALSE(numa.place(kGiB).has_value());
    EXPECT_EQ(numa.pool_specs(8 * kGiB).size(), 1u);
    EXPECT_EQ(numa.pool_for(std::nullopt), 0u);
  }
}

TEST(NumaPlacement, PoolsPerNodeHoldAtMostTheNodesFreeMemoryAndFallBackNearestFirst) {
  Topology t = Topology::uniform(4, 2 * kGiB, 1);
  t.nodes[1].free_bytes = kGiB + 100;  // rounded down to pages
  // A ring: 0-1 and 2-3 near (distance 12), the rest far.
  for (size_t a = 0; a < 4; ++a) {
    for (size_t b = 0; b < 4; ++b) t.distance[a][b] = a == b ? 10 : (a / 2 == b / 2 ? 12 : 20);
  }
  NumaPlacement numa(t, *NumaSetting::parse("auto"));
  const std::vector<FramePoolSpec> pools = numa.pool_specs(3 * kGiB / 2);
  ASSERT_EQ(pools.size(), 4u);
  EXPECT_EQ(pools[0].capacity_bytes, 3 * kGiB / 2);
  EXPECT_EQ(pools[1].capacity_bytes, kGiB);
  EXPECT_EQ(pools[2].fallback, (std::vector<uint32_t>{3, 0, 1}));
  EXPECT_EQ(pools[1].fallback, (std::vector<uint32_t>{0, 2, 3}));
  EXPECT_EQ(numa.pool_for(2u), 2u);
}

TEST(NumaPlacement, ANodeTheHostLacksIsRefusedInOneLine) {
  try {
    NumaPlacement numa(Topology::uniform(1, kGiB, 2), *NumaSetting::parse("node:1"));
    FAIL() << "node:1 on a one-node host was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "--numa node:1: the host has no node 1 (its nodes: 0)");
  }
}

TEST(NumaPlacement, OneNodeHostIsOneUnboundPoolWhateverTheSetting) {
  for (const char* s : {"auto", "off", "interleave", "node:0"}) {
    NumaPlacement numa(Topology::uniform(1, kGiB, 2), *NumaSetting::parse(s));
    EXPECT_FALSE(numa.by_node()) << s;
    const std::vector<FramePoolSpec> pools = numa.pool_specs(8 * kGiB);
    ASSERT_EQ(pools.size(), 1u);
    EXPECT_EQ(pools[0].capacity_bytes, 8 * kGiB) << "one node: the store as it always was";
  }
}

// Budgets by node id come back by node index (ids need not be dense); a node the host lacks,
// a budget above the node's memory and a setting without homes are refused, one line each.
TEST(NumaPlacement, NodeBudgetsByIndexAndBadOnesRefused) {
  Topology t = Topology::uniform(2, 4 * kGiB, 1);
  t.nodes[1].id = 3;
  const NumaPlacement numa(t, *NumaSetting::parse("auto"));
  EXPECT_EQ(numa.node_budgets({{3, 1 * kGiB}}), (std::vector<uint64_t>{0, 1 * kGiB}));
  EXPECT_EQ(numa.node_budgets({{0, 4 * kGiB}, {3, 2 * kGiB}}), (std::vector<uint64_t>{4 * kGiB, 2 * kGiB}));
  EXPECT_EQ(numa.node_budgets({}), (std::vector<uint64_t>{0, 0}));
  auto refusal = [](const NumaPlacement& p, std::vector<std::pair<int, uint64_t>> b) -> std::string {
    try {
      (void)p.node_budgets(b);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(refusal(numa, {{1, kGiB}}), "--host-budget-node 1:1024M: the host has no node 1");
  EXPECT_EQ(refusal(numa, {{3, 4 * kGiB + kMiB}}), "--host-budget-node 3:4097M: node 3 has only 4096 MiB");
  const NumaPlacement off(t, *NumaSetting::parse("off"));
  EXPECT_EQ(refusal(off, {{0, kGiB}}), "--host-budget-node 0:1024M: --numa off gives VMs no home node to budget by");
  // One node: auto homes every VM on node 0, so its budget works like the total.
  const NumaPlacement one(Topology::uniform(1, 4 * kGiB, 1), *NumaSetting::parse("auto"));
  EXPECT_EQ(one.node_budgets({{0, kGiB}}), (std::vector<uint64_t>{kGiB}));
}

}  // namespace
}  // namespace densevm
