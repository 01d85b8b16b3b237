#include "shadow-pt/shadow_root_cache.h"

#include <algorithm>

namespace densevm {

ShadowRoot& ShadowRootCache::switch_to(Gpa guest_root, bool nxe) {
  ++clock_;
  for (const auto& r : roots_) {
    if (r->guest_root == guest_root && r->nxe == nxe) {
      ++stats_.hits;
      r->last_used = clock_;
      current_ = r.get();
      return *r;
    }
  }
  ++stats_.misses;
  current_ = nullptr;
  while (roots_.size() >= capacity_ && evict_lru()) {}
  auto root = std::make_unique<ShadowRoot>();
  root->guest_root = guest_root;
  root->nxe = nxe;
  root->last_used = clock_;
  current_ = root.get();
  roots_.push_back(std::move(root));
  return *current_;
}

bool ShadowRootCache::evict_lru() {
  auto victim = roots_.end();
  for (auto it = roots_.begin(); it != roots_.end(); ++it) {
    if (it->get() == current_) continue;
    if (victim == roots_.end() || (*it)->last_used < (*victim)->last_used) victim = it;
  }
  if (victim == roots_.end()) return false;
  drop_tree(**victim);
  roots_.erase(victim);
  ++stats_.evictions;
  return true;
}

void ShadowRootCache::drop_tree(ShadowRoot& root) {
  if (!root.cell.present()) return;
  if (ShadowTable* t = tables_.find(root.cell.frame())) {
    tables_.detach(*t);
  }
  root.cell = X86Pte();
}

void ShadowRootCache::retire_all() {
  std::vector<X86Pte*> cells;
  cells.reserve(roots_.size());
  for (const auto& r : roots_) cells.push_back(&r->cell);
  tables_.retire_all(cells);
}

void ShadowRootCache::clear() {
  for (const auto& r : roots_) drop_tree(*r);
  roots_.clear();
  current_ = nullptr;
}

}  // namespace densevm
