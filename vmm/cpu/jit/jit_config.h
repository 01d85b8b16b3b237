// The translator's settings and counters (vmm/cpu/jit/jit.h), on their own so the VM's
// configuration can name them without the code generator's headers.
//
//   VmConfig c{.cpu = {.translate = true, .jit = {.hot_threshold = 16}}};
//   jit::Stats s = vcpu.translation_stats();
#pragma once

#include <cstddef>
#include <cstdint>

namespace densevm::cpu::jit {

struct Config {
  uint32_t hot_threshold = 16;             // interpreted visits of a block head; 0: at once
  size_t cache_bytes = size_t{32} << 20;   // translated code and block records, per vCPU
  // A clone of an in-memory template runs the template's translations of the pages it still
  // shares with it (DESIGN.md, "Sharing translations between clones").
  bool share = true;
};

struct Stats {
  uint64_t blocks_translated = 0;
  uint64_t instructions_translated = 0;  // guest instructions in the blocks translated
  uint64_t retired_translated = 0;       // instructions retired by translated code
  uint64_t entries = 0;                  // times the run loop entered translated code
  uint64_t cache_bytes = 0;              // code and records held now (this VM's own)
  uint64_t shared_reused = 0;            // block heads found in the template's translations
  uint64_t shared_bytes = 0;             // the template's translations this VM may use
  uint64_t flushes = 0;                  // the cache filled up and was emptied
  uint64_t blocks_invalidated = 0;       // dropped because their page was written
  uint64_t chained = 0;                  // direct jumps patched block to block
  uint64_t linked = 0;                   // other branches that found their block in code
  uint64_t translate_ns = 0;             // host time spent translating (not deterministic)
};

}  // namespace densevm::cpu::jit
