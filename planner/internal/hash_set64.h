// HashSet64: a set of 64-bit page hashes, open addressing with linear probing. The values are
// XXH3 outputs, already uniform, so the low bits pick the slot; 0 marks an empty slot and the
// value 0 itself is kept in a flag. 8 bytes a slot at most half full: a quarter of what
// std::unordered_set spends, and no allocation per insert.
//
//   HashSet64 host;
//   uint64_t added = host.insert_all(vm_pages);
//   bool there = host.contains(h);
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace densevm::planner::internal {

class HashSet64 {
 public:
  [[nodiscard]] bool contains(uint64_t v) const {
    if (v == 0) return has_zero_;
    if (slots_.empty()) return false;
    for (size_t i = v & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == v) return true;
      if (slots_[i] == 0) return false;
    }
  }
  // True if v was not there.
  bool insert(uint64_t v) {
    if (v == 0) {
      const bool added = !has_zero_;
      has_zero_ = true;
      size_ += added;
      return added;
    }
    if ((size_ + 1) * 2 > slots_.size()) grow();
    for (size_t i = v & mask_;; i = (i + 1) & mask_) {
      if (slots_[i] == v) return false;
      if (slots_[i] == 0) {
        slots_[i] = v;
        ++size_;
        return true;
      }
    }
  }
  // Values not yet in the set.
  [[nodiscard]] uint64_t count_missing(std::span<const uint64_t> values) const {
    uint64_t n = 0;
    for (const uint64_t v : values) n += contains(v) ? 0 : 1;
    return n;
  }
  [[nodiscard]] uint64_t size() const { return size_; }

 private:
  void grow() {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
    mask_ = slots_.size() - 1;
    for (const uint64_t v : old) {
      if (v == 0) continue;
      size_t i = v & mask_;
      while (slots_[i] != 0) i = (i + 1) & mask_;
      slots_[i] = v;
    }
  }

  std::vector<uint64_t> slots_;
  size_t mask_ = 0;
  uint64_t size_ = 0;
  bool has_zero_ = false;
};

}  // namespace densevm::planner::internal
