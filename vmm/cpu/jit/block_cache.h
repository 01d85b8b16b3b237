// BlockCache: one vCPU's translated blocks and the heat of code not yet translated, found
// by the guest-physical address of a block's first instruction.
//
// A direct-mapped table of recent lookups sits in front of the hash map, so a dispatch
// costs a hash and a compare. Blocks and their instruction records live until clear():
// an invalidated block may still be executing (a store to its own page), so only the index
// forgets it at once.
//
//   BlockCache::Entry& e = cache.entry(gpa);
//   if (e.block == nullptr && ++e.heat >= threshold) e.block = cache.new_block(gpa);
//   cache.invalidate_page(gpa >> 12);   // a write to the page
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <vector>

#include "core/zeroed_array.h"
#include "vmm/cpu/decoded_insn.h"
#include "vmm/cpu/jit/block.h"

namespace densevm::cpu::jit {

class BlockCache {
 public:
  static constexpr size_t kInsnChunk = 256;  // records per chunk (more than a block holds)
  static constexpr size_t kInsnChunkBytes = kInsnChunk * sizeof(DecodedInsn);

  struct Entry {
    Block* block = nullptr;  // live, or nullptr while the code is interpreted
    uint32_t heat = 0;       // visits of this block head in the interpreter
    bool shared = false;     // `block` is another cache's (read-only to this one)
  };

  // The entry for a block head, created on first sight.
  [[nodiscard]] Entry& entry(uint64_t gpa) {
    Recent& r = recent_[slot_of(gpa)];
    if (r.gpa == gpa && r.entry != nullptr) return *r.entry;
    return miss(gpa, r);
  }
  // The entry for a block head if there is one.
  [[nodiscard]] const Entry* find(uint64_t gpa) {
    Recent& r = recent_[slot_of(gpa)];
    if (r.gpa == gpa && r.entry != nullptr) return r.entry;
    auto it = entries_.find(gpa);
    if (it == entries_.end()) return nullptr;
    r = {gpa, &it->second};
    recent_empty_ = false;
    return &it->second;
  }
  // The entry for a block head, without touching anything (any number of threads may look
  // up a cache that no longer changes: a frozen VM's).
  [[nodiscard]] const Entry* peek(uint64_t gpa) const {
    auto it = entries_.find(gpa);
    return it == entries_.end() ? nullptr : &it->second;
  }
  // The table the dispatch stub in translated code looks blocks up in (translator.cc):
  // kRecent slots of {gpa, code} (16 bytes; slot_of(gpa)), filled as the dispatch's call
  // finds a live block, emptied with the block's entry (invalidate_page, clear): one load
  // and a compare where the table of recent lookups would chase Entry, Block and code.
  [[nodiscard]] const void* dispatch_table() const { return &dispatch_[0]; }
  void note_dispatch(uint64_t gpa, const uint8_t* code) {
    dispatch_[slot_of(gpa)] = {gpa, code};
    dispatch_empty_ = false;
  }
  static constexpr size_t kRecent = 4096;
  static constexpr size_t slot_of(uint64_t gpa) { return (gpa ^ (gpa >> 12)) & (kRecent - 1); }
  // Storage that lives until clear(): a block, and records for its instructions.
  [[nodiscard]] Block* new_block(uint64_t gpa);
  [[nodiscard]] DecodedInsn* new_insns(size_t n);
  // Forgets every block of the page (marking its own dead; shared ones stay live for the
  // caches that own them) and the heat of its heads; returns how many of its own died.
  size_t invalidate_page(uint64_t gpa_page);
  void clear();
  // Host bytes the index and the records take (besides the code itself).
  [[nodiscard]] size_t metadata_bytes() const;
  // The most metadata_bytes() can grow by translating one block (a new chunk of records).
  static constexpr size_t kMaxBlockGrowth =
      sizeof(Block) + kInsnChunkBytes + sizeof(Entry) + 4 * sizeof(void*) + sizeof(uint64_t);

 private:
  struct Recent {  // all-zero bytes are an empty slot (entry nullptr): ZeroedArray's
    uint64_t gpa = 0;
    Entry* entry = nullptr;
  };
  static_assert(sizeof(Recent) == 16 && offsetof(Recent, entry) == 8);
  struct Dispatch {  // all-zero bytes are an empty slot (code nullptr)
    uint64_t gpa = 0;
    const uint8_t* code = nullptr;
  };
  static_assert(sizeof(Dispatch) == 16 && offsetof(Dispatch, code) == 8);
  Entry& miss(uint64_t gpa, Recent& r);

  std::unordered_map<uint64_t, Entry> entries_;  // node-based: Entry addresses are stable
  std::unordered_map<uint64_t, std::vector<uint16_t>> heads_;  // page -> offsets with entries
  // 64 KiB of fresh memory, faulted in as blocks are looked up rather than written when the
  // VM is made: a restored VM or a clone reaches its first instruction without it.
  // recent_empty_: nothing written since it was last all empty, so clear() need not.
  ZeroedArray<Recent> recent_{kRecent};
  bool recent_empty_ = true;
  ZeroedArray<Dispatch> dispatch_{kRecent};  // the same, for the dispatch stub
  bool dispatch_empty_ = true;
  std::deque<Block> blocks_;
  std::vector<std::vector<DecodedInsn>> insn_chunks_;
};

}  // namespace densevm::cpu::jit
