// The x87 for the instruction handlers (insn_x87*.cc): the checks an x87 instruction makes
// first, and replay on the host.
//
// Replay runs the guest's own two instruction bytes (opcode and ModRM; a memory operand
// becomes [RDI], pointing at a host copy) on the host's x87 loaded by FXRSTOR from the
// guest's registers, and reads them back with FXSAVE. So results, stack faults, TOP, tags,
// C0-C3 and the masked and unmasked responses are those of the hardware, bit for bit, for
// every instruction the SDM defines exactly (the builder admits no other). The flags go in
// cleared, so the exceptions the instruction raised come out; an unmasked one leaves ES set
// on the host, which FNINIT clears before anything could trap on it.
//
//   X87Frame f;
//   load_frame(v.state().fpu, f);
//   x87_register_thunk(0xde, 0xc1)(f);   // FADDP st(1), st(0)
#pragma once

#include <cstdint>
#include <cstring>

#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {

// #NM when CR0.EM or CR0.TS is set (SDM Vol 3A §2.5, Table 2-2). False: raised.
[[nodiscard]] inline bool x87_enabled(Vcpu& v) {
  if (v.state().cr0 & (cr0::kEm | cr0::kTs)) {
    v.raise(kVecNm);
    return false;
  }
  return true;
}

// A waiting x87 instruction first reports a pending unmasked exception (ES) as #MF (SDM Vol
// 1 §8.6). With CR0.NE clear the PC way is an external FERR# interrupt, which needs a PIC we
// do not have: such errors are ignored there, as with IGNNE# asserted. False: raised.
[[nodiscard]] inline bool x87_no_pending_error(Vcpu& v) {
  if ((v.state().fpu.fsw & kFswEs) && (v.state().cr0 & cr0::kNe)) {
    v.raise(kVecMf);
    return false;
  }
  return true;
}

// ES and B are set exactly when an exception flag is set whose mask is clear; every
// instruction that changes flags or masks keeps it so (SDM Vol 1 §8.1.3.1, §8.1.5.1).
inline void update_error_summary(FpuState& f) {
  if (f.fsw & ~f.fcw & kMxcsrFlags) f.fsw |= kFswEs | kFswB;
  else f.fsw &= static_cast<uint16_t>(~(kFswEs | kFswB));
}

// Sets TOP (FSW bits 13:11) to `top`. The registers stay where they are physically, so
// the stack-order slots of FpuState turn with it: ST(i) is physical register (TOP + i) & 7.
inline void set_top(FpuState& f, unsigned top) {
  const unsigned old_top = (f.fsw & kFswTop) >> 11;
  uint8_t st[8][16];
  std::memcpy(st, f.st, sizeof st);
  for (unsigned i = 0; i < 8; ++i) std::memcpy(f.st[i], st[(top - old_top + i) & 7], 16);
  f.fsw = static_cast<uint16_t>((f.fsw & ~kFswTop) | (top & 7) << 11);
}

// FLDCW, FXRSTOR, FLDENV: the writable bits of the control word, bit 6 reading 1.
[[nodiscard]] inline uint16_t normalize_fcw(uint64_t v) {
  return static_cast<uint16_t>((v & kFcwWritable) | kFcwFixed1);
}

struct X87Frame {
  alignas(16) uint8_t image[512];  // FXSAVE image: in, the guest's x87 with the host's MXCSR
  alignas(16) uint8_t mem[16];     // the memory operand: in for loads, out for stores
  uint8_t flags_in;                // RFLAGS before, as LAHF lays them out (FCMOVcc reads)
  uint8_t zf, pf, cf;              // RFLAGS after (FCOMI and FUCOMI)
};

using X87Thunk = void (*)(X87Frame&);

// The replay of a register form (opcode D8..DF, ModRM C0..FF) or of a memory form (opcode
// D8..DF, ModRM reg field 0..7) of any x87 instruction: callers admit only defined ones.
[[nodiscard]] X87Thunk x87_register_thunk(uint8_t opcode, uint8_t modrm);
[[nodiscard]] X87Thunk x87_memory_thunk(uint8_t opcode, uint8_t reg);

// The instruction groups; register_x87() (decoder.h) calls both.
void register_x87_arithmetic();  // insn_x87.cc
void register_x87_state();       // insn_x87_state.cc

// The guest's x87 registers into f.image, with exception flags, SF, ES and B clear (so none
// is pending on the host) and the host's own MXCSR.
void load_frame(const FpuState& fpu, X87Frame& f);

}  // namespace densevm::cpu
