// Taint: which bits of a differential case's state the SDM leaves undefined.
//
// An instruction that leaves a flag or a register undefined (a rotate by more than one, MUL's
// SF/ZF/AF/PF, BSF of zero, ...) makes the bits it leaves undefined tainted; a later
// instruction that reads a tainted bit (SETcc, CMOVcc, ADC, RCL, PUSHF, LAHF, a store, ...)
// taints what it writes from it. Intel and AMD CPUs choose undefined values differently, so
// the differential check compares only untainted bits. An instruction that overwrites a bit
// with a defined value clears its taint.
//
// A branch, an address, a repeat count or a divisor that depends on a tainted value would
// make the two sides run different instructions: then `control` says where, and the case
// cannot be compared at all (a generator must not build such a case).
//
//   TaintState t;
//   for (each retired instruction) propagate(t, insn, operands, before, after, rip);
//   uint64_t compared_rax_bits = ~t.gpr[kRax];
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tests/diff/diff_case.h"

namespace densevm::diff {

struct TaintState {
  std::array<uint64_t, kGprCount> gpr{};  // bit i: bit i of the register is undefined
  uint64_t flags = 0;                     // RFLAGS bits (of kComparedFlags) that are undefined
  std::vector<uint8_t> data = std::vector<uint8_t>(kDataSize);  // undefined bits per data byte
  std::map<ZydisRegister, uint64_t> other;  // other registers holding an undefined value
  std::string control;  // non-empty: what depended on an undefined value

  [[nodiscard]] bool any() const;
};

// Applies one retired instruction at `rip`. `ops` holds all of its operands (hidden ones
// included), `before` and `after` are the registers around it (addresses, counts and
// conditions are taken from `before`; repeat counts from how far RCX moved).
void propagate(TaintState& t, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops,
               const CpuRegs& before, const CpuRegs& after, uint64_t rip);

}  // namespace densevm::diff
