// Decoder: turns instruction bytes into a DecodedInsn with its handler chosen.
//
// Zydis does the x86 decoding; this file digests its operands into our compact form and
// asks the builder registered for the mnemonic (insn_*.cc) to pick the handler for the exact
// operand form and size. A valid instruction we do not implement is kUnsupported: `out` then
// holds only its length and mnemonic, and the vCPU raises #UD for it and counts it (as a CPU
// without the feature would; the guest kernel's business, never a reason to stop the VM);
// bytes that are no instruction at all are kInvalid (#UD, not counted).
//
//   DecodedInsn d;
//   DecodeStatus st = decode_instruction(bytes, 15, d);
//   if (st == DecodeStatus::kOk) d.handler(vcpu, d);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <Zydis/Zydis.h>

#include "vmm/cpu/decoded_insn.h"

namespace densevm::cpu {

enum class DecodeStatus : uint8_t { kOk, kNeedMoreBytes, kInvalid, kUnsupported };

[[nodiscard]] DecodeStatus decode_instruction(const uint8_t* bytes, size_t available,
                                              DecodedInsn& out);
// The same, handing back Zydis's own record and operands too (the translator picks the forms
// it inlines from them); `insn` and `ops` are meaningful unless kNeedMoreBytes or kInvalid.
[[nodiscard]] DecodeStatus decode_instruction(const uint8_t* bytes, size_t available,
                                              DecodedInsn& out, ZydisDecodedInstruction& insn,
                                              ZydisDecodedOperand (&ops)[ZYDIS_MAX_OPERAND_COUNT]);

// Zydis's name of a DecodedInsn::mnemonic ("movaps").
[[nodiscard]] const char* mnemonic_name(uint16_t mnemonic);

// Intel-syntax text of one instruction (for diagnostics), or "(bad)".
[[nodiscard]] std::string disassemble(const uint8_t* bytes, size_t available, uint64_t rip);

// ---- for the insn_*.cc builders ----

enum class OpKind : uint8_t { kNone, kReg, kMem, kImm };

struct DecodeContext {
  const ZydisDecodedInstruction& insn;
  const ZydisDecodedOperand* ops;  // explicit operands first (Zydis order)
  unsigned explicit_count;
  OpKind kind[4];

  [[nodiscard]] bool form(OpKind a, OpKind b = OpKind::kNone, OpKind c = OpKind::kNone) const {
    return kind[0] == a && kind[1] == b && kind[2] == c;
  }
  [[nodiscard]] unsigned op_size(unsigned i) const { return ops[i].size / 8; }
  [[nodiscard]] bool has(ZydisInstructionAttributes attr) const {
    return (insn.attributes & attr) != 0;
  }
};

// Picks d.handler (and any detail fields); false if this form is not implemented.
using Builder = bool (*)(const DecodeContext& ctx, DecodedInsn& d);

void register_builder(ZydisMnemonic mnemonic, Builder builder);
// The builder registered for `mnemonic` so far, or nullptr: a later group that shares a
// mnemonic (SSE2's MOVSD and CMPSD are also string instructions) hands it the other forms.
[[nodiscard]] Builder registered_builder(ZydisMnemonic mnemonic);

// Chooses Fn<1>, Fn<2>, Fn<4> or Fn<8> by operand size.
template <template <unsigned> class Fn>
Handler by_size(unsigned size) {
  switch (size) {
    case 1: return &Fn<1>::run;
    case 2: return &Fn<2>::run;
    case 4: return &Fn<4>::run;
    case 8: return &Fn<8>::run;
    default: return nullptr;
  }
}

// The register groups (insn_*.cc); called once to fill the builder table.
void register_data_movement();
void register_arithmetic();
void register_shifts();
void register_muldiv();
void register_bit_ops();
void register_control_flow();
void register_strings();
void register_system();
void register_sse();  // after register_strings(): see registered_builder()
void register_x87();

}  // namespace densevm::cpu
