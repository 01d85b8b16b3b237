#include "numa/topology.h"

#include "numa/node_memory.h"

#include <numa.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>

namespace densevm {
namespace {

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

// The first unsigned number in `text` at or after `at`, and where it ends; nullopt if none.
std::optional<uint64_t> number_after(std::string_view text, size_t& at) {
  at = text.find_first_of("0123456789", at);
  if (at == std::string_view::npos) return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data() + at, text.data() + text.size(), value);
  if (ec != std::errc()) return std::nullopt;
  at = static_cast<size_t>(end - text.data());
  return value;
}

// The value of a zone's "  NAME  VALUE" line, if `line` is that line.
std::optional<uint64_t> field(std::string_view line, std::string_view name) {
  const size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos || line.substr(start, name.size()) != name) return std::nullopt;
  size_t at = start + name.size();
  if (at >= line.size() || line[at] != ' ') return std::nullopt;
  return number_after(line, at);
}

}  // namespace

std::vector<uint64_t> zone_reserved_pages(std::string_view zoneinfo) {
  std::vector<uint64_t> reserved;
  struct Zone {
    size_t node = 0;
    uint64_t free = 0, low = 0, protection = 0;
  };
  std::optional<Zone> zone;
  auto close = [&] {
    if (!zone) return;
    if (reserved.size() <= zone->node) reserved.resize(zone->node + 1, 0);
    reserved[zone->node] += std::min(zone->free, zone->low + zone->protection);
    zone.reset();
  };
  size_t begin = 0;
  while (begin < zoneinfo.size()) {
    size_t end = zoneinfo.find('\n', begin);
    if (end == std::string_view::npos) end = zoneinfo.size();
    const std::string_view line = zoneinfo.substr(begin, end - begin);
    begin = end + 1;
    if (line.starts_with("Node ")) {
      close();
      size_t at = 0;
      const std::optional<uint64_t> node = number_after(line, at);
      if (node && *node < 4096 && line.find("zone", at) != std::string_view::npos) zone = Zone{.node = *node};
      continue;
    }
    if (!zone) continue;
    if (const auto v = field(line, "pages free")) zone->free = *v;
    if (const auto v = field(line, "low")) zone->low = *v;
    const size_t open = line.find("protection: (");
    if (open != std::string_view::npos) {
      size_t at = open;
      while (const std::optional<uint64_t> v = number_after(line, at)) zone->protection = std::max(zone->protection, *v);
    }
  }
  close();
  return reserved;
}

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
  std::ifstream in("/proc/zoneinfo");
  std::stringstream text;
  text << in.rdbuf();
  const std::vector<uint64_t> reserved = zone_reserved_pages(text.str());
  for (NumaNode& node : t.nodes) {
    const auto id = static_cast<size_t>(node.id);
    if (id < reserved.size()) node.reserved_bytes = reserved[id] * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }
  t.distance.assign(t.size(), std::vector<int>(t.size(), 0));
  for (size_t a = 0; a < t.size(); ++a) {
    for (size_t b = 0; b < t.size(); ++b) t.distance[a][b] = numa_distance(t.nodes[a].id, t.nodes[b].id);
  }
  return t;
}

}  // namespace densevm
