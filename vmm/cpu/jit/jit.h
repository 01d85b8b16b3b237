// Jit: one vCPU's translator — its code arena, its block cache, and the way in and out of
// translated code for the run loop (Vcpu::run_translated).
//
// A block head is translated once the interpreter has reached it `hot_threshold` times;
// the arena and the block records together stay under `cache_bytes`, and filling it drops
// every translation at once (a flush). A guest write to a page (or a new frame behind it)
// drops that page's blocks, as it drops its decoded instructions. A clone of an in-memory
// template also runs the template's translations (share_from) of every page it still maps
// to the template's frame. Why asmjit, what a threaded interpreter would have given, how
// exactness is kept and how clones share translations: DESIGN.md beside this file.
//
//   std::unique_ptr<Jit> jit = Jit::create(vcpu, Config{}, &error);
//   jit->share_from(frozen_vms_jit, template_keepalive);  // a clone
//   if (const Block* b = jit->block_at(gpa_page, offset, host))
//     bool end_page_run = jit->run(vcpu, *b, page_va, limit);
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "vmm/cpu/jit/block.h"
#include "vmm/cpu/jit/block_cache.h"
#include "vmm/cpu/jit/code_arena.h"
#include "vmm/cpu/jit/jit_config.h"
#include "vmm/cpu/jit/translator.h"
#include "vmm/cpu/jit/vcpu_access.h"

namespace densevm::cpu::jit {

class Jit {
 public:
  // nullptr (and why in `error`) when the host gives no executable memory.
  [[nodiscard]] static std::unique_ptr<Jit> create(const Vcpu& vcpu, const Config& config,
                                                   std::string* error);

  // The block to run at `offset` of guest-physical page `gpa_page`, whose bytes are at
  // `host`, translated now if it just became hot; nullptr: interpret.
  [[nodiscard]] const Block* block_at(uint64_t gpa_page, unsigned offset, const uint8_t* host);
  // Runs translated code from `block` (the page's VA is `page_va`) until it leaves the page
  // or must stop; true if the page run must end (a fault, a stop, HLT).
  [[nodiscard]] bool run(Vcpu& vcpu, const Block& block, uint64_t page_va, uint64_t limit);
  void note_retired(uint64_t n) { stats_.retired_translated += n; }
  // A live translated block at `gpa`, or nullptr (no heat counted: the run loop does that).
  [[nodiscard]] const Block* linked_block(uint64_t gpa) {
    const BlockCache::Entry* e = cache_.find(gpa);
    if (e == nullptr || e->block == nullptr || e->block->code == nullptr) return nullptr;
    ++stats_.linked;
    cache_.note_dispatch(gpa, e->block->code);  // the dispatch stub finds it from now on
    return e->block;
  }

  // From now on block heads this cache has not seen are looked up in `frozen` too (a frozen
  // VM's translator, which never changes again, kept alive with its frames by `keep`): a
  // block there is run if it was translated from the very frame this VM maps at its page
  // now. Nothing if config.share is off.
  void share_from(const Jit& frozen, std::shared_ptr<const void> keep);

  // The table translated code's dispatch stub looks blocks up in (Vcpu::jit_dispatch_).
  [[nodiscard]] const void* dispatch_table() const { return cache_.dispatch_table(); }

  void invalidate_page(uint64_t gpa_page);
  // Drops every translation (not while translated code runs: the run loop and restore call it).
  void flush();
  [[nodiscard]] Stats stats() const;

 private:
  Jit(const Vcpu& vcpu, const Config& config, std::unique_ptr<CodeArena> arena);
  [[nodiscard]] Block* translate(uint64_t gpa, unsigned offset, const uint8_t* host);
  // The frozen translator's block at `gpa` if it was translated from the page at `host`.
  [[nodiscard]] Block* shared_block(uint64_t gpa, const uint8_t* host) const;
  void chain_to(const Block& target);

  Config config_;
  VcpuAccess::Layout layout_;
  std::unique_ptr<CodeArena> arena_;
  size_t stub_bytes_ = 0;
  BlockCache cache_;
  Translator translator_{layout_};
  ChainSlot* pending_chain_ = nullptr;  // the exit the last run left through
  const Jit* shared_ = nullptr;         // a frozen VM's translator (share_from)
  std::shared_ptr<const void> shared_keep_;
  Stats stats_;
  // DENSEVM_PERF_MAP set: /tmp/perf-PID.map names each block's code for `perf report`
  // (guest-physical address of its head), as perf's JIT interface asks; set to "code", also
  // /tmp/perf-PID.code with each block's host code in hex (objdump -b binary -m i386:x86-64 -D).
  // One writer for the process (jit.cc): its VMs' translators, on any thread, add whole lines.
  bool perf_map_ = false;
  static void perf_record(const uint8_t* code, uint32_t bytes, const char* name);
};

}  // namespace densevm::cpu::jit
