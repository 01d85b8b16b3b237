#include "cli/numa_stats.h"

#include <cstring>

#include "numa/node_memory.h"

namespace densevm::cli {
namespace {

// Pages per node index (topology order) by the kernel's answer; pages it reports on no node
// of the topology or not present (never touched by the host: a frame still reading as the
// kernel's zero page) are counted in `absent`.
struct Census {
  std::vector<uint64_t> by_node;
  uint64_t absent = 0;
  std::vector<int> index;  // per page: its node index, or -1
};

bool is_zero(const void* page) {
  static const uint8_t kZero[kPageSize] = {};
  return std::memcmp(page, kZero, kPageSize) == 0;
}

Census census(const Topology& topology, const std::vector<void*>& pages) {
  Census c;
  c.by_node.assign(topology.size(), 0);
  for (int node : nodes_of(pages)) {
    const std::optional<size_t> i = node >= 0 ? topology.index_of(node) : std::nullopt;
    c.index.push_back(i ? static_cast<int>(*i) : -1);
    if (i) {
      ++c.by_node[*i];
    } else {
      ++c.absent;
    }
  }
  return c;
}

}  // namespace

void add_numa_stats(nlohmann::ordered_json& doc, const std::vector<std::unique_ptr<Vm>>& vms,
                    const FrameStore& frames, const NumaPlacement& numa) {
  const Topology& topology = numa.topology();
  std::vector<void*> resident;
  for (uint64_t f = 1; f < frames.capacity_frames(); ++f) {
    if (frames.refcount(Hpa::from_page(f)) != 0) resident.push_back(frames.host_ptr(Hpa::from_page(f)));
  }
  const Census all = census(topology, resident);
  std::vector<unsigned> homed(topology.size(), 0);
  for (const auto& vm : vms) {
    if (vm->config().numa_home) ++homed[*vm->config().numa_home];
  }
  nlohmann::ordered_json nodes = nlohmann::ordered_json::array();
  for (size_t i = 0; i < topology.size(); ++i) {
    nodes.push_back({{"node", topology.nodes[i].id},
                     {"frames", all.by_node[i]},
                     {"free_bytes", node_free_bytes(topology.nodes[i].id)},
                     {"vms", homed[i]},
                     {"cpus", topology.nodes[i].cpus},
                     {"fallback_frames", numa.by_node() ? frames.pool_stats(static_cast<uint32_t>(i)).fallbacks : 0},
                     {"reserved_bytes", topology.nodes[i].reserved_bytes},
                     {"pool_frames", numa.by_node() ? frames.pool_stats(static_cast<uint32_t>(i)).capacity_frames : 0}});
  }
  doc["numa"] = {{"policy", numa.setting().name()},
                 {"by_node", numa.by_node()},
                 {"frames_not_present", all.absent},
                 {"nodes", nodes}};

  // Where the slices ran depends on the host's scheduling: not in vms[], whose every counter
  // repeats bit for bit.
  nlohmann::ordered_json vm_cpus = nlohmann::ordered_json::array();
  for (const auto& vm : vms) vm_cpus.push_back(vm->cpus_seen());
  doc["numa"]["vm_cpus"] = vm_cpus;

  nlohmann::ordered_json& list = doc["vms"];
  for (size_t k = 0; k < vms.size() && k < list.size(); ++k) {
    Vm& vm = *vms[k];
    std::vector<void*> pages;
    vm.memory().for_each_mapping([&](Gpa, Hpa frame, EptPerms) { pages.push_back(frames.host_ptr(frame)); });
    const Census mine = census(topology, pages);
    const std::optional<uint32_t> home = vm.config().numa_home;
    uint64_t remote = 0, remote_zero = 0;
    for (size_t p = 0; p < pages.size(); ++p) {
      const int i = mine.index[p];
      if (!home || i < 0 || static_cast<uint32_t>(i) == *home) continue;
      ++remote;
      remote_zero += is_zero(pages[p]);
    }
    list[k]["numa"] = {{"home_node", home ? nlohmann::ordered_json(topology.nodes[*home].id) : nlohmann::ordered_json()},
                       {"frames_by_node", mine.by_node},
                       {"pages_not_present", mine.absent},
                       {"remote_mappings", remote},
                       {"remote_zero_mappings", remote_zero}};
    if (vm.config().saved_numa_node) list[k]["numa"]["saved_home_node"] = *vm.config().saved_numa_node;
  }
}

}  // namespace densevm::cli
