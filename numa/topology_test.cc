#include "numa/topology.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <set>

namespace densevm {
namespace {

TEST(Topology, UniformFakeHasNodesCpusAndDistances) {
  const Topology t = Topology::uniform(4, uint64_t{1} << 30, 2);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t.nodes[3].id, 3);
  EXPECT_EQ(t.nodes[3].cpus, (std::vector<int>{6, 7}));
  EXPECT_EQ(t.distance[1][1], 10);
  EXPECT_EQ(t.distance[1][2], 20);
  EXPECT_EQ(t.fallback_order(2), (std::vector<uint32_t>{0, 1, 3}));
  EXPECT_EQ(t.index_of(3), 3u);
  EXPECT_FALSE(t.index_of(4));
}

// The real host, whatever it is: every allowed CPU on exactly one node, local distance 10,
// sizes that add up.
TEST(Topology, HostTopologyCoversEveryAllowedCpuOnce) {
  const Topology t = read_host_topology();
  ASSERT_GE(t.size(), 1u);
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  std::multiset<int> seen;
  for (const NumaNode& n : t.nodes) {
    seen.insert(n.cpus.begin(), n.cpus.end());
    EXPECT_GT(n.total_bytes, 0u);
    EXPECT_LE(n.free_bytes, n.total_bytes);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(CPU_COUNT(&set)));
  for (int c : seen) EXPECT_EQ(seen.count(c), 1u) << "CPU " << c;
  for (size_t i = 0; i < t.size(); ++i) EXPECT_EQ(t.distance[i][i], 10);
}

}  // namespace
}  // namespace densevm
