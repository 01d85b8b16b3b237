#include "dedup/dedup_frames.h"

#include <cstring>

namespace densevm {

DedupFrames::~DedupFrames() { release_all(); }

void DedupFrames::release_all() {
  for (const Hpa hpa : held()) frames_.release(hpa);
}

std::vector<Hpa> DedupFrames::held() const {
  std::vector<Hpa> frames;
  for (const auto& [hpa, owned] : owned_) frames.push_back(hpa);
  if (zero_) frames.push_back(*zero_);
  return frames;
}

DedupFramesState DedupFrames::save() const { return {zero_, by_hash_, owned_, FrameRefs(frames_, held())}; }

void DedupFrames::restore(const DedupFramesState& s) {
  release_all();
  zero_ = s.zero;
  by_hash_ = s.by_hash;
  owned_ = s.owned;
  for (const Hpa hpa : held()) frames_.retain(hpa);
}

std::optional<Hpa> DedupFrames::zero_frame() {
  if (!zero_) zero_ = frames_.allocate();  // allocate() hands out zeroed frames
  return zero_;
}

std::optional<Hpa> DedupFrames::find(uint32_t group, uint64_t hash, const uint8_t* page,
                                     uint64_t* collisions) const {
  if (group >= by_hash_.size()) return std::nullopt;
  const auto [begin, end] = by_hash_[group].equal_range(hash);
  for (auto it = begin; it != end; ++it) {
    if (std::memcmp(frames_.host_ptr(it->second), page, kPageSize) == 0) return it->second;
    ++*collisions;
  }
  return std::nullopt;
}

void DedupFrames::adopt(uint32_t group, uint64_t hash, Hpa hpa) {
  frames_.retain(hpa);
  if (group >= by_hash_.size()) by_hash_.resize(group + size_t{1});
  by_hash_[group].emplace(hash, hpa);
  owned_.emplace(hpa, Owned{hash, group});
}

std::optional<uint32_t> DedupFrames::group_of(Hpa hpa) const {
  const auto it = owned_.find(hpa);
  if (it == owned_.end()) return std::nullopt;
  return it->second.group;
}

std::optional<uint64_t> DedupFrames::hash_of(Hpa hpa) const {
  const auto it = owned_.find(hpa);
  if (it == owned_.end()) return std::nullopt;
  return it->second.hash;
}

uint64_t DedupFrames::prune() {
  uint64_t pruned = 0;
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (frames_.refcount(it->first) > 1) {
      ++it;
      continue;
    }
    auto [begin, end] = by_hash_[it->second.group].equal_range(it->second.hash);
    for (auto b = begin; b != end; ++b) {
      if (b->second != it->first) continue;
      by_hash_[it->second.group].erase(b);
      break;
    }
    frames_.release(it->first);
    it = owned_.erase(it);
    ++pruned;
  }
  return pruned;
}

}  // namespace densevm
