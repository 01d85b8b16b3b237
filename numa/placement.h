// NumaPlacement: where VMs live on a multi-node host (`--numa auto|off|interleave|node:N`).
//
// With auto and node:N on a host of several nodes the FrameStore is cut into one pool per
// node (pool i is topology node i, bound to it with mbind, falling back to the nearest other
// node when full), each VM gets a home node whose pool its frames come from and whose CPUs
// its worker threads are pinned to. A pool holds at most its node's usable memory (free at
// start-up less the kernel's reserve: NumaNode::usable_bytes). auto picks, for each VM in
// turn, among the nodes whose usable memory (less what the VMs placed there already may take) still
// holds the VM, the one with the fewest VMs, then the most memory left (then the lowest
// number); when none holds it, the one with the most memory left, and the pool's fall-back
// does the rest. interleave is one pool spread page by page over every node, off one pool
// where the kernel pleases (first touch): neither gives a VM a home. On a one-node host every
// setting is one unbound pool, as without NUMA; auto and node:0 still name node 0 as home.
//
//   NumaPlacement numa(read_host_topology(), *NumaSetting::parse("auto"));
//   FrameStore frames(numa.pool_specs(capacity));
//   numa.bind(frames);                                 // mbind each pool to its node
//   std::optional<uint32_t> home = numa.place(256 << 20, std::nullopt);  // node index
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/frame_store.h"
#include "numa/topology.h"

namespace densevm {

enum class NumaMode : uint8_t { kAuto, kOff, kInterleave, kNode };

struct NumaSetting {
  NumaMode mode = NumaMode::kAuto;
  int node = 0;  // kNode: the node id

  // "auto", "off", "interleave" or "node:N"; nullopt for anything else.
  [[nodiscard]] static std::optional<NumaSetting> parse(const std::string& text);
  [[nodiscard]] std::string name() const;
};

class NumaPlacement {
 public:
  // Throws std::invalid_argument (one line) when node:N names a node the host lacks.
  NumaPlacement(Topology topology, NumaSetting setting);

  [[nodiscard]] const Topology& topology() const { return topology_; }
  [[nodiscard]] const NumaSetting& setting() const { return setting_; }
  // One frame pool per node, VMs homed and their workers pinned.
  [[nodiscard]] bool by_node() const { return by_node_; }

  // The FrameStore's pools for a store of capacity_bytes: one per node (each holding at most
  // its node's free memory), or one. Then bind() them (the kernel call, on the real host).
  [[nodiscard]] std::vector<FramePoolSpec> pool_specs(uint64_t capacity_bytes) const;
  // mbind each pool to its node (or interleave the one pool); false if the kernel refused.
  [[nodiscard]] bool bind(FrameStore& frames) const;

  // The home node (index into topology().nodes) of the next VM, of mem_bytes of RAM: `wanted`
  // (an index: a per-VM choice) if given; else with auto `was` (where a snapshot was) if its
  // node still holds the VM; else the setting's choice. nullopt with off and interleave.
  // Throws std::invalid_argument when `wanted` or `was` is no node of this host.
  [[nodiscard]] std::optional<uint32_t> place(uint64_t mem_bytes, std::optional<uint32_t> wanted = std::nullopt,
                                              std::optional<uint32_t> was = std::nullopt);
  // Balloon budgets per node (--host-budget-node N:SIZE: kernel node id and bytes), as bytes
  // by node index (0: none). Throws std::invalid_argument (one line) for a node the host
  // lacks, a budget larger than the node's memory, or a setting that homes no VM (off,
  // interleave): a node's budget is shared by the VMs whose home it is.
  [[nodiscard]] std::vector<uint64_t> node_budgets(const std::vector<std::pair<int, uint64_t>>& by_id) const;
  // The frame pool for a VM of this home.
  [[nodiscard]] uint32_t pool_for(std::optional<uint32_t> home) const { return by_node_ && home ? *home : 0; }
  [[nodiscard]] unsigned vms_on(uint32_t index) const { return vms_[index]; }

 private:
  [[nodiscard]] bool holds(uint32_t index, uint64_t mem_bytes) const;

  Topology topology_;
  NumaSetting setting_;
  bool by_node_ = false;
  std::vector<unsigned> vms_;          // VMs placed per node
  std::vector<uint64_t> committed_;    // their RAM per node
};

}  // namespace densevm
