#include "numa/placement.h"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "core/types.h"
#include "numa/node_memory.h"

namespace densevm {

std::optional<NumaSetting> NumaSetting::parse(const std::string& text) {
  if (text == "auto") return NumaSetting{NumaMode::kAuto, 0};
  if (text == "off") return NumaSetting{NumaMode::kOff, 0};
  if (text == "interleave") return NumaSetting{NumaMode::kInterleave, 0};
  const std::string prefix = "node:";
  if (text.rfind(prefix, 0) != 0 || text.size() == prefix.size() || text.size() > prefix.size() + 4) return std::nullopt;
  int node = 0;
  for (size_t i = prefix.size(); i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    node = node * 10 + (text[i] - '0');
  }
  return NumaSetting{NumaMode::kNode, node};
}

std::string NumaSetting::name() const {
  switch (mode) {
    case NumaMode::kAuto: return "auto";
    case NumaMode::kOff: return "off";
    case NumaMode::kInterleave: return "interleave";
    case NumaMode::kNode: return "node:" + std::to_string(node);
  }
  return "auto";
}

NumaPlacement::NumaPlacement(Topology topology, NumaSetting setting)
    : topology_(std::move(topology)), setting_(setting) {
  if (setting_.mode == NumaMode::kNode && !topology_.index_of(setting_.node)) {
    std::string have;
    for (const NumaNode& n : topology_.nodes) have += (have.empty() ? "" : ", ") + std::to_string(n.id);
    throw std::invalid_argument("--numa node:" + std::to_string(setting_.node) + ": the host has no node " +
                                std::to_string(setting_.node) + " (its nodes: " + have + ")");
  }
  by_node_ = topology_.size() > 1 && (setting_.mode == NumaMode::kAuto || setting_.mode == NumaMode::kNode);
  vms_.assign(topology_.size(), 0);
  committed_.assign(topology_.size(), 0);
}

std::vector<FramePoolSpec> NumaPlacement::pool_specs(uint64_t capacity_bytes) const {
  if (!by_node_) return {{.capacity_bytes = capacity_bytes, .fallback = {}}};
  std::vector<FramePoolSpec> pools;
  for (size_t i = 0; i < topology_.size(); ++i) {
    const uint64_t room = std::min(capacity_bytes, topology_.nodes[i].usable_bytes());
    pools.push_back({.capacity_bytes = room & ~kPageMask, .fallback = topology_.fallback_order(i)});
  }
  return pools;
}

bool NumaPlacement::bind(FrameStore& frames) const {
  if (by_node_) {
    bool ok = true;
    for (uint32_t i = 0; i < frames.pools(); ++i) {
      if (frames.pool_bytes(i) == 0) continue;
      ok = prefer_node(frames.pool_base(i), frames.pool_bytes(i), topology_.nodes[i].id) && ok;
    }
    return ok;
  }
  if (setting_.mode != NumaMode::kInterleave || topology_.size() < 2) return true;
  std::vector<int> ids;
  for (const NumaNode& n : topology_.nodes) ids.push_back(n.id);
  return interleave(frames.pool_base(0), frames.pool_bytes(0), ids);
}

std::vector<uint64_t> NumaPlacement::node_budgets(const std::vector<std::pair<int, uint64_t>>& by_id) const {
  std::vector<uint64_t> budgets(topology_.size(), 0);
  for (const auto& [id, bytes] : by_id) {
    const std::string flag = "--host-budget-node " + std::to_string(id) + ":" + std::to_string(bytes >> 20) + "M";
    if (setting_.mode == NumaMode::kOff || setting_.mode == NumaMode::kInterleave) {
      throw std::invalid_argument(flag + ": --numa " + setting_.name() + " gives VMs no home node to budget by");
    }
    const std::optional<size_t> index = topology_.index_of(id);
    if (!index) throw std::invalid_argument(flag + ": the host has no node " + std::to_string(id));
    const NumaNode& node = topology_.nodes[*index];
    if (bytes > node.total_bytes) {
      throw std::invalid_argument(flag + ": node " + std::to_string(id) + " has only " +
                                  std::to_string(node.total_bytes >> 20) + " MiB");
    }
    budgets[*index] = bytes;
  }
  return budgets;
}

bool NumaPlacement::holds(uint32_t index, uint64_t mem_bytes) const {
  const uint64_t free = topology_.nodes[index].usable_bytes();
  return committed_[index] <= free && free - committed_[index] >= mem_bytes;
}

std::optional<uint32_t> NumaPlacement::place(uint64_t mem_bytes, std::optional<uint32_t> wanted,
                                             std::optional<uint32_t> was) {
  for (const std::optional<uint32_t>& index : {wanted, was}) {
    if (index && *index >= topology_.size()) {
      throw std::invalid_argument("NUMA node index " + std::to_string(*index) + " is no node of this host");
    }
  }
  std::optional<uint32_t> home;
  if (setting_.mode == NumaMode::kOff || setting_.mode == NumaMode::kInterleave) {
    return std::nullopt;  // no pools by node: a home would be a word, not a place
  }
  if (wanted) {
    home = wanted;
  } else if (was && setting_.mode == NumaMode::kAuto && holds(*was, mem_bytes)) {
    home = was;
  } else if (setting_.mode == NumaMode::kNode) {
    home = static_cast<uint32_t>(*topology_.index_of(setting_.node));
  } else {
    auto left = [&](uint32_t i) {
      const uint64_t free = topology_.nodes[i].usable_bytes();
      return committed_[i] < free ? free - committed_[i] : 0;
    };
    std::optional<uint32_t> best;
    for (uint32_t i = 0; i < topology_.size(); ++i) {
      if (!holds(i, mem_bytes)) continue;
      if (!best || vms_[i] < vms_[*best] || (vms_[i] == vms_[*best] && left(i) > left(*best))) best = i;
    }
    if (!best) {
      best = 0;
      for (uint32_t i = 1; i < topology_.size(); ++i) {
        if (left(i) > left(*best)) best = i;
      }
    }
    home = best;
  }
  if (home) {
    ++vms_[*home];
    committed_[*home] += mem_bytes;
  }
  return home;
}

}  // namespace densevm
