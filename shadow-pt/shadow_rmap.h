// ShadowRmap: the reverse map from a guest frame to every shadow leaf that maps it.
//
// Keyed by guest frame number rather than host frame: the P2M announces changes by Gpa,
// and one host frame can back several Gpas (page sharing) of which only one changes. The
// EPT listener, write-protection of a newly shadowed guest table and the checker use it.
//
//   ShadowRmap rmap;
//   rmap.add(gfn, &leaf);
//   rmap.for_each(gfn, [](X86Pte& e) { e.clear(X86Pte::kWritable); });
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "core/x86_pte.h"

namespace densevm {

class ShadowRmap {
 public:
  void add(uint64_t gfn, X86Pte* leaf) { map_[gfn].push_back(leaf); }

  void remove(uint64_t gfn, X86Pte* leaf) {
    const auto it = map_.find(gfn);
    if (it == map_.end()) return;
    std::vector<X86Pte*>& leaves = it->second;
    const auto pos = std::find(leaves.begin(), leaves.end(), leaf);
    if (pos == leaves.end()) return;
    *pos = leaves.back();
    leaves.pop_back();
    if (leaves.empty()) map_.erase(it);
  }

  // Clears every leaf mapping gfn and forgets them; returns how many there were.
  uint64_t drop(uint64_t gfn) {
    const auto it = map_.find(gfn);
    if (it == map_.end()) return 0;
    const uint64_t n = it->second.size();
    for (X86Pte* leaf : it->second) *leaf = X86Pte();
    map_.erase(it);
    return n;
  }

  template <class Fn>
  void for_each(uint64_t gfn, Fn&& fn) const {
    const auto it = map_.find(gfn);
    if (it == map_.end()) return;
    for (X86Pte* leaf : it->second) fn(*leaf);
  }

  [[nodiscard]] bool contains(uint64_t gfn, const X86Pte* leaf) const {
    const auto it = map_.find(gfn);
    return it != map_.end() &&
           std::find(it->second.begin(), it->second.end(), leaf) != it->second.end();
  }

  // Guest frames in [first, last] with at least one leaf, for range invalidations.
  [[nodiscard]] std::vector<uint64_t> gfns_in(uint64_t first, uint64_t last) const {
    std::vector<uint64_t> out;
    for (const auto& [gfn, leaves] : map_) {
      if (gfn >= first && gfn <= last) out.push_back(gfn);
    }
    return out;
  }

  [[nodiscard]] size_t gfn_count() const { return map_.size(); }

 private:
  std::unordered_map<uint64_t, std::vector<X86Pte*>> map_;
};

}  // namespace densevm
