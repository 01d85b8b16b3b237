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

// /proc/zoneinfo as Linux 6.1 prints it (cut down): per zone min(free, low + largest
// protection), summed by node. DMA is all reserve (its protection exceeds it), DMA32 its low
// watermark plus the reserve against Normal allocations; node 1 has one zone.
TEST(Topology, ZoneReserveFromZoneinfo) {
  const char* text =
      "Node 0, zone      DMA\n"
      "  per-node stats\n"
      "      nr_inactive_anon 5\n"
      "  pages free     3840\n"
      "        min      12\n"
      "        low      15\n"
      "        high     18\n"
      "        protection: (0, 3018, 20554, 20554, 20554)\n"
      "  pagesets\n"
      "    cpu: 0\n"
      "              high:  0\n"
      "Node 0, zone    DMA32\n"
      "  pages free     772848\n"
      "        min      2479\n"
      "        low      3251\n"
      "        high     4023\n"
      "        protection: (0, 0, 17536, 17536, 17536)\n"
      "Node 1, zone   Normal\n"
      "  pages free     1000\n"
      "        low      700\n"
      "        protection: (0, 0, 0, 0, 0)\n";
  EXPECT_EQ(zone_reserved_pages(text), (std::vector<uint64_t>{3840 + 3251 + 17536, 700}));
  EXPECT_TRUE(zone_reserved_pages("").empty());
  EXPECT_TRUE(zone_reserved_pages("garbage\nNode x\n  pages free 1\n").empty());

  NumaNode n;
  n.free_bytes = 100;
  n.reserved_bytes = 30;
  EXPECT_EQ(n.usable_bytes(), 70u);
  n.reserved_bytes = 130;
  EXPECT_EQ(n.usable_bytes(), 0u);
}

// The host's reserve is part of its free memory, and there is one wherever the kernel keeps
// watermarks (every Linux).
TEST(Topology, HostReserveIsPartOfFreeMemory) {
  const Topology t = read_host_topology();
  uint64_t reserved = 0, free = 0;
  for (const NumaNode& n : t.nodes) {
    reserved += n.reserved_bytes;
    free += n.free_bytes;
  }
  EXPECT_GT(reserved, 0u);
  EXPECT_LT(reserved, free);
}

}  // namespace
}  // namespace densevm
