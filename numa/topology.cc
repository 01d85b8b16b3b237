#include "numa/topology.h"

#include <numa.h>
#include <sched.h>
#include <sys/sysinfo.h>

#include <algorithm>
#include <numeric>

namespace densevm {
namespace {

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

Topology single_node() {
  Topology t;
  struct sysinfo info {};
  NumaNode node;
  node.cpus = allowed_cpus();
  if (sysinfo(&info) == 0) {
    node.total_bytes = uint64_t{info.totalram} * info.mem_unit;
    node.free_bytes = uint64_t{info.freeram} * info.mem_unit;
  }
  t.nodes.push_back(std::move(node));
  t.distance = {{10}};
  return t;
}

}  // namespace

std::optional<size_t> Topology::index_of(int id) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].id == id) return i;
  }
  return std::nullopt;
}

std::vector<uint32_t> Topology::fallback_order(size_t index) const {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    if (i != index) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return distance[index][a] < distance[index][b]; });
  return order;
}

Topology Topology::uniform(size_t n, uint64_t bytes_per_node, int cpus_per_node) {
  Topology t;
  for (size_t i = 0; i < n; ++i) {
    NumaNode node;
    node.id = static_cast<int>(i);
    node.cpus.resize(static_cast<size_t>(cpus_per_node));
    std::iota(node.cpus.begin(), node.cpus.end(), static_cast<int>(i) * cpus_per_node);
    node.total_bytes = node.free_bytes = bytes_per_node;
    t.nodes.push_back(std::move(node));
  }
  t.distance.assign(n, std::vector<int>(n, 20));
  for (size_t i = 0; i < n; ++i) t.distance[i][i] = 10;
  return t;
}

Topology read_host_topology() {
  if (numa_available() < 0) return single_node();
  Topology t;
  const std::vector<int> allowed = allowed_cpus();
  const int max_node = numa_max_node();
  bitmask* cpus = numa_allocate_cpumask();
  for (int id = 0; id <= max_node; ++id) {
    long long free = 0;
    const long long size = numa_node_size64(id, &free);
    if (size <= 0) continue;  // no such node, or a node without memory (CPUs only)
    NumaNode node;
    node.id = id;
    node.total_bytes = static_cast<uint64_t>(size);
    node.free_bytes = static_cast<uint64_t>(std::max(free, 0LL));
    if (numa_node_to_cpus(id, cpus) == 0) {
      for (int c : allowed) {
        if (numa_bitmask_isbitset(cpus, static_cast<unsigned>(c))) node.cpus.push_back(c);
      }
    }
    t.nodes.push_back(std::move(node));
  }
  numa_free_cpumask(cpus);
  if (t.nodes.empty()) return single_node();
  t.distance.assign(t.size(), std::vector<int>(t.size(), 0));
  for (size_t a = 0; a < t.size(); ++a) {
    for (size_t b = 0; b < t.size(); ++b) t.distance[a][b] = numa_distance(t.nodes[a].id, t.nodes[b].id);
  }
  return t;
}

}  // namespace densevm
