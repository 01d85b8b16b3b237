// Shared pieces of the SSE and SSE2 handlers (insn_sse_*.cc): the checks every SSE
// instruction makes first, XMM and memory operands, and the builders' operand tests.
//
// Builders put the destination register in d.reg and a register source in d.rm, as XMM
// numbers or GprIndex values as the form has them; a memory operand is d's as always.
//
//   template <Src S> Exec pxor(Vcpu& v, const DecodedInsn& d) {
//     Xmm src;  if (!sse_enabled(v) || !load_src<S>(v, d, src)) return Exec::kFault;
//     xmm(v, d.reg) = ...;  return Exec::kNext; }
#pragma once

#include <emmintrin.h>

#include <cstdint>

#include "vmm/cpu/cpuid.h"
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {

// SDM Vol 2A §2.5.1 (legacy SSE exception classes): #UD when CR0.EM is set or CR4.OSFXSR
// clear, then #NM when CR0.TS is set. False: the exception is pending.
[[nodiscard]] inline bool sse_enabled(Vcpu& v) {
  const CpuState& s = v.state();
  if ((s.cr0 & cr0::kEm) || !(s.cr4 & kCr4Osfxsr)) {
    v.raise(kVecUd);
    return false;
  }
  if (s.cr0 & cr0::kTs) {
    v.raise(kVecNm);
    return false;
  }
  return true;
}

[[nodiscard]] inline Xmm& xmm(Vcpu& v, uint8_t r) { return v.state().fpu.xmm[r]; }

[[nodiscard]] inline __m128i to_m128i(const Xmm& x) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(&x));
}
[[nodiscard]] inline Xmm to_xmm(__m128i v) {
  Xmm x;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&x), v);
  return x;
}

// 16 bytes of guest memory. A read in one page the soft TLB maps takes the fast path; the
// rest (page crossings, MMIO, misses) goes through Vcpu::read_bytes, which faults exactly.
[[nodiscard]] bool read_m128(Vcpu& v, uint64_t va, Xmm& out);
[[nodiscard]] bool write_m128(Vcpu& v, uint64_t va, const Xmm& in);

// Legacy SSE memory operands of 16 bytes must be 16-byte aligned, except for the unaligned
// moves (MOVUPS, MOVDQU, ...): #GP(0) otherwise, whatever the segment (SDM Vol 1 §11.6.8).
[[nodiscard]] inline bool check_aligned(Vcpu& v, uint64_t va) {
  if (va & 15) {
    v.raise_gp0();
    return false;
  }
  return true;
}

// Where a source operand comes from: an XMM register (d.rm), or memory of 16 bytes
// (aligned or not), 8 or 4 bytes (those fill the low lane; the other bytes read zero).
enum class Src : uint8_t { kXmm, kM128, kM128Unaligned, kM64, kM32 };

template <Src S>
[[nodiscard]] bool load_src(Vcpu& v, const DecodedInsn& d, Xmm& out) {
  if constexpr (S == Src::kXmm) {
    out = xmm(v, d.rm);
    return true;
  } else if constexpr (S == Src::kM128 || S == Src::kM128Unaligned) {
    const uint64_t va = v.effective_address(d);
    if (S == Src::kM128 && !check_aligned(v, va)) return false;
    return read_m128(v, va, out);
  } else {
    uint64_t value;
    if (!v.read<S == Src::kM64 ? 8 : 4>(v.effective_address(d), value)) return false;
    out = Xmm{value, 0};
    return true;
  }
}

// ---- builders ----

[[nodiscard]] inline bool is_xmm(const DecodeContext& c, unsigned i) {
  return c.kind[i] == OpKind::kReg && ZydisRegisterGetClass(c.ops[i].reg.value) == ZYDIS_REGCLASS_XMM;
}
[[nodiscard]] inline bool is_gpr(const DecodeContext& c, unsigned i) {
  if (c.kind[i] != OpKind::kReg) return false;
  const ZydisRegisterClass k = ZydisRegisterGetClass(c.ops[i].reg.value);
  return k == ZYDIS_REGCLASS_GPR32 || k == ZYDIS_REGCLASS_GPR64;
}
// The XMM number, or for a 32/64-bit GPR its GprIndex.
[[nodiscard]] inline uint8_t reg_number(const DecodeContext& c, unsigned i) {
  return static_cast<uint8_t>(ZydisRegisterGetId(c.ops[i].reg.value));
}
[[nodiscard]] inline bool is_mem(const DecodeContext& c, unsigned i, unsigned bytes) {
  return c.kind[i] == OpKind::kMem && c.op_size(i) == bytes;
}

// One mnemonic's handlers by source form: (xmm, xmm) and (xmm, mem) with the memory
// operand of `mem_bytes` (16: aligned m128).
struct XmmForms {
  ZydisMnemonic mnemonic;
  Handler reg;
  Handler mem;
  unsigned mem_bytes;
};

// Picks the handler of an (xmm, xmm/mem) instruction, with an optional imm8 (in d.imm);
// false for any other form (MMX registers, VEX forms are other mnemonics).
[[nodiscard]] bool build_xmm_forms(const DecodeContext& c, DecodedInsn& d, const XmmForms& f);

// Registers a builder for every mnemonic of `forms` (static storage: the builder looks its
// mnemonic up there again at decode time).
void register_xmm_forms(const XmmForms* forms, unsigned count);

// The instruction groups (insn_sse_*.cc); register_sse() calls them.
void register_sse_moves();
void register_sse_lanes();
void register_sse_integer();
void register_sse_shuffles();
void register_sse_float();
void register_sse_conversions();

}  // namespace densevm::cpu
