// Block: one translated guest basic block — where its host code is, how many instructions
// a run of it retires at most, and its chainable exits.
//
// A block never crosses its guest page, and its code never names the page's guest virtual
// address (translated code gets it in a register), so one translation serves every virtual
// alias of the guest-physical page. Its direct jumps to other blocks of the same page are
// patched in once the target exists (chaining); a write to the page kills all of them at
// once, so a chain never leads out of date.
//
//   const Block* b = jit.block_at(gpa_page, offset, host);
//   if (b != nullptr && retired + b->count <= limit) jit.run(*b, page_va, limit);
#pragma once

#include <cstdint>

namespace densevm::cpu::jit {

struct Block;

// A direct jump to a page offset of the same page, patchable once that block exists: the
// jump's rel32 sits 4-byte aligned, so the patch is one atomic store.
struct ChainSlot {
  Block* from = nullptr;
  uint32_t rel32_at = 0;  // offset of the jump's displacement in the block's code
  uint16_t target = 0;    // page offset jumped to
  bool chained = false;
};

struct Block {
  static constexpr unsigned kMaxSlots = 2;

  uint64_t gpa = 0;               // guest-physical address of the first instruction
  const uint8_t* page = nullptr;  // host address of the page's bytes it was translated from
  const uint8_t* code = nullptr;  // RX entry; nullptr: nothing translatable starts here
  uint32_t code_bytes = 0;
  uint16_t count = 0;             // instructions one run retires at most
  bool live = true;               // false once the page was written or the cache flushed
  ChainSlot slots[kMaxSlots];
};

}  // namespace densevm::cpu::jit
