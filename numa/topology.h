// Topology: the host's NUMA nodes as read once at start-up (their CPUs, memory, distances),
// then passed down by value to whatever places memory or threads. read_host_topology() is
// the one reader (libnuma); tests build a fake one with Topology::uniform.
//
//   const Topology host = read_host_topology();
//   for (const NumaNode& n : host.nodes) std::printf("node %d: %zu CPUs\n", n.id, n.cpus.size());
//   const Topology two = Topology::uniform(2, /*bytes_per_node=*/1ull << 30, /*cpus_per_node=*/2);
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace densevm {

struct NumaNode {
  int id = 0;                 // the kernel's node number (not always dense)
  std::vector<int> cpus;      // the CPUs this process may run on, on this node
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;    // when read
  // Of free_bytes, what the kernel keeps for itself: below each zone's low watermark plus its
  // lowmem reserve, a page first touched under a node preference comes from another node.
  uint64_t reserved_bytes = 0;

  // What a pool bound to this node can expect to get on it.
  [[nodiscard]] uint64_t usable_bytes() const { return free_bytes - std::min(reserved_bytes, free_bytes); }
};

struct Topology {
  std::vector<NumaNode> nodes;          // by increasing id
  std::vector<std::vector<int>> distance;  // by index into nodes: the SLIT's 10 = local

  [[nodiscard]] size_t size() const { return nodes.size(); }
  // The index of node `id` in nodes, if the host has it.
  [[nodiscard]] std::optional<size_t> index_of(int id) const;
  // Every other node's index, nearest first (ties by index): where a full node's frames go.
  [[nodiscard]] std::vector<uint32_t> fallback_order(size_t index) const;

  // A fake host for tests: n nodes 0..n-1 of bytes_per_node each (all free), CPUs numbered
  // node by node, distance 10 local and 20 remote.
  [[nodiscard]] static Topology uniform(size_t n, uint64_t bytes_per_node, int cpus_per_node);
};

// The host as libnuma sees it: every configured node with memory, the CPUs of this process's
// affinity mask on it, its size, free memory and the kernel's reserve of it (/proc/zoneinfo),
// and the distance table. A host without NUMA support (numa_available() < 0) is one node
// holding every allowed CPU and all memory.
[[nodiscard]] Topology read_host_topology();

// Per node id (index), the free pages /proc/zoneinfo's text holds back from user allocations:
// for each zone min(free, low + its largest lowmem protection). Empty for text without zones.
[[nodiscard]] std::vector<uint64_t> zone_reserved_pages(std::string_view zoneinfo);

}  // namespace densevm
