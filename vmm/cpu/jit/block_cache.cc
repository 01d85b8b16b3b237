#include "vmm/cpu/jit/block_cache.h"

#include <cstddef>

namespace densevm::cpu::jit {

// What the dispatch stub reads (translator.cc).
static_assert(sizeof(BlockCache::Entry) >= 8 && offsetof(BlockCache::Entry, block) == 0);

BlockCache::Entry& BlockCache::miss(uint64_t gpa, Recent& r) {
  auto [it, inserted] = entries_.try_emplace(gpa);
  if (inserted) heads_[gpa >> 12].push_back(static_cast<uint16_t>(gpa & 0xfff));
  r = {gpa, &it->second};
  recent_empty_ = false;
  return it->second;
}

Block* BlockCache::new_block(uint64_t gpa) {
  Block& b = blocks_.emplace_back();
  b.gpa = gpa;
  return &b;
}

DecodedInsn* BlockCache::new_insns(size_t n) {
  if (insn_chunks_.empty() || insn_chunks_.back().size() + n > insn_chunks_.back().capacity()) {
    insn_chunks_.emplace_back().reserve(n > kInsnChunk ? n : kInsnChunk);
  }
  std::vector<DecodedInsn>& chunk = insn_chunks_.back();
  const size_t at = chunk.size();
  chunk.resize(at + n);  // within capacity: earlier records never move
  return chunk.data() + at;
}

size_t BlockCache::invalidate_page(uint64_t gpa_page) {
  auto page = heads_.find(gpa_page);
  if (page == heads_.end()) return 0;
  size_t died = 0;
  for (const uint16_t offset : page->second) {
    const uint64_t gpa = (gpa_page << 12) | offset;
    auto it = entries_.find(gpa);
    if (it == entries_.end()) continue;
    if (Block* b = it->second.block; b != nullptr && !it->second.shared) {
      b->live = false;
      ++died;
    }
    Recent& r = recent_[slot_of(gpa)];
    if (r.entry == &it->second) r = Recent{};
    Dispatch& d = dispatch_[slot_of(gpa)];
    if (d.gpa == gpa) d = Dispatch{};
    entries_.erase(it);
  }
  heads_.erase(page);
  return died;
}

void BlockCache::clear() {
  entries_.clear();
  heads_.clear();
  // Both tables: written only if something was put in them since they were last empty.
  const auto wipe = [](auto& table, bool& empty) {
    if (empty) return;
    for (size_t i = 0; i < table.size(); ++i) table[i] = {};
    empty = true;
  };
  wipe(recent_, recent_empty_);
  wipe(dispatch_, dispatch_empty_);
  blocks_.clear();
  insn_chunks_.clear();
}

size_t BlockCache::metadata_bytes() const {
  size_t insns = 0;
  for (const auto& chunk : insn_chunks_) insns += chunk.capacity() * sizeof(DecodedInsn);
  return blocks_.size() * sizeof(Block) + insns +
         entries_.size() * (sizeof(Entry) + 3 * sizeof(void*) + sizeof(uint64_t)) +
         sizeof(recent_) + sizeof(dispatch_);
}

}  // namespace densevm::cpu::jit
