// Translator: guest bytes to host code in a CodeArena, with asmjit.
//
// It emits once the stubs every block shares (the trampoline from C++ into translated code
// and the exits back), then a block at a time: decode up to the first branch (or the page's
// end, an instruction that continues on the next page, one the decoder refuses, or
// kMaxInsns), emit with BlockEmitter, place it at the arena's cursor. One CodeHolder,
// assembler and emitter serve every block: a block reuses the zone memory, the text buffer
// and the records of the ones before it instead of allocating its own (a block too large
// for the text buffer is assembled again with a growing one).
//
//   Translator t(layout);
//   if (!t.emit_stubs(arena)) ...;
//   Translator::Result r = t.translate(page_bytes, offset, block, cache, arena);
#pragma once

#include <asmjit/x86.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "vmm/cpu/jit/block.h"
#include "vmm/cpu/jit/block_cache.h"
#include "vmm/cpu/jit/block_emitter.h"
#include "vmm/cpu/jit/code_arena.h"
#include "vmm/cpu/jit/vcpu_access.h"

namespace densevm::cpu::jit {

// Enters translated code at `code` with the page's guest VA and the retire limit; returns 0
// (go on from RIP), 1 (end the page run) or the ChainSlot that left.
using EnterFn = uint64_t (*)(Vcpu* vcpu, const uint8_t* code, uint64_t page_va, uint64_t limit);

class Translator {
 public:
  static constexpr unsigned kMaxInsns = 64;
  enum class Result : uint8_t { kOk, kNothing, kFull };

  // The text buffer every block is assembled in (kIsFixed: one that needs more is
  // assembled again in a growing buffer). Tests pass a smaller one.
  static constexpr size_t kTextBytes = 64 << 10;

  explicit Translator(const VcpuAccess::Layout& layout, size_t text_bytes = kTextBytes);
  ~Translator();
  Translator(const Translator&) = delete;
  Translator& operator=(const Translator&) = delete;

  // The shared stubs, at the arena's cursor; false if the arena cannot hold them.
  [[nodiscard]] bool emit_stubs(CodeArena& arena);
  [[nodiscard]] EnterFn enter() const { return enter_; }

  // Translates the block starting at `offset` of the guest page `page` into `block`.
  // kNothing: no instruction there can be translated (the interpreter runs it); kFull: the
  // arena has no room (flush and retry).
  [[nodiscard]] Result translate(const uint8_t* page, unsigned offset, Block& block,
                                 BlockCache& cache, CodeArena& arena);

 private:
  class ErrorRecorder final : public asmjit::ErrorHandler {
   public:
    void handleError(asmjit::Error err, const char*, asmjit::BaseEmitter*) override {
      if (error == asmjit::kErrorOk) error = err;
    }
    asmjit::Error error = asmjit::kErrorOk;
  };

  // Assembles insns_ as `block` into code_ (at the arena's cursor); false: asmjit failed
  // (kErrorTooLarge in errors_: the fixed text buffer was too small).
  bool assemble(Block& block, CodeArena& arena, bool fixed_buffer);

  const VcpuAccess::Layout& layout_;
  Globals globals_;
  EnterFn enter_ = nullptr;
  std::vector<GuestInsn> insns_;
  bool next_crosses_ = false;  // the instruction after insns_ runs on into the next page
  // Kept from block to block (assemble resets them).
  asmjit::CodeHolder code_;
  ErrorRecorder errors_;
  asmjit::x86::Assembler assembler_;
  BlockEmitter emitter_;
  size_t text_bytes_;
  std::unique_ptr<uint8_t[]> text_;
};

}  // namespace densevm::cpu::jit
