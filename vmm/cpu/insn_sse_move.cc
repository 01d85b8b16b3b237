// SSE/SSE2 data movement: MOVAPS MOVAPD MOVDQA MOVUPS MOVUPD MOVDQU, the non-temporal
// stores MOVNTDQ MOVNTPS MOVNTPD MOVNTI (plain stores here: there is no cache to bypass),
// MOVD MOVQ, MOVSS MOVSD, MOVLPS MOVLPD MOVHPS MOVHPD MOVHLPS MOVLHPS, LDMXCSR STMXCSR.
// Each follows its SDM Vol 2 page; the lane and mask moves are in insn_sse_lane.cc.
#include "vmm/cpu/sse.h"

namespace densevm::cpu {
namespace {

// ---- whole registers: MOVAPS and friends ----

template <Src S>
Exec move_load(Vcpu& v, const DecodedInsn& d) {
  Xmm x;
  if (!sse_enabled(v) || !load_src<S>(v, d, x)) return Exec::kFault;
  xmm(v, d.reg) = x;
  return Exec::kNext;
}

template <bool kAligned>
Exec move_store(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const uint64_t va = v.effective_address(d);
  if (kAligned && !check_aligned(v, va)) return Exec::kFault;
  return write_m128(v, va, xmm(v, d.reg)) ? Exec::kNext : Exec::kFault;
}

// MOVAPS xmm, xmm/m128 | m128, xmm (and the other whole-register moves).
template <bool kAligned>
bool build_move(const DecodeContext& c, DecodedInsn& d) {
  if (is_xmm(c, 0) && is_xmm(c, 1)) {
    d.reg = reg_number(c, 0);
    d.rm = reg_number(c, 1);
    d.handler = &move_load<Src::kXmm>;
  } else if (is_xmm(c, 0) && is_mem(c, 1, 16)) {
    d.reg = reg_number(c, 0);
    d.handler = kAligned ? &move_load<Src::kM128> : &move_load<Src::kM128Unaligned>;
  } else if (is_mem(c, 0, 16) && is_xmm(c, 1)) {
    d.reg = reg_number(c, 1);
    d.handler = &move_store<kAligned>;
  } else {
    return false;
  }
  return true;
}

// MOVNTDQ/MOVNTPS/MOVNTPD m128, xmm: aligned stores.
bool build_move_nt(const DecodeContext& c, DecodedInsn& d) {
  if (!is_mem(c, 0, 16) || !is_xmm(c, 1)) return false;
  d.reg = reg_number(c, 1);
  d.handler = &move_store<true>;
  return true;
}

// MOVNTI m32/m64, r: an ordinary store; SSE2 has no CR0/CR4 condition for it.
template <unsigned S>
Exec movnti(Vcpu& v, const DecodedInsn& d) {
  return v.write<S>(v.effective_address(d), v.reg<S>(d.reg)) ? Exec::kNext : Exec::kFault;
}

bool build_movnti(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem || !is_gpr(c, 1)) return false;
  d.reg = reg_number(c, 1);
  d.handler = c.op_size(0) == 8 ? &movnti<8> : &movnti<4>;
  return true;
}

// ---- the low lane: MOVD MOVQ MOVSS MOVSD ----

// To XMM from a GPR or memory of S bytes: the rest of the register is zeroed.
template <unsigned S, bool kMem>
Exec load_low_zero(Vcpu& v, const DecodedInsn& d) {
  uint64_t value;
  if (!sse_enabled(v)) return Exec::kFault;
  if constexpr (kMem) {
    if (!v.read<S>(v.effective_address(d), value)) return Exec::kFault;
  } else {
    value = v.reg<S>(d.rm);
  }
  xmm(v, d.reg) = Xmm{value, 0};
  return Exec::kNext;
}

// From XMM's low S bytes to a GPR (zero-extended to 64 bits) or memory.
template <unsigned S, bool kMem>
Exec store_low(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const uint64_t value = xmm(v, d.rm).lo & size_mask(S);
  if constexpr (kMem) {
    return v.write<S>(v.effective_address(d), value) ? Exec::kNext : Exec::kFault;
  } else {
    v.set_reg<8>(d.reg, value);
    return Exec::kNext;
  }
}

// MOVQ xmm, xmm (F3 0F 7E, 66 0F D6): the low quadword, upper zeroed.
Exec movq_xmm_xmm(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  xmm(v, d.reg) = Xmm{xmm(v, d.rm).lo, 0};
  return Exec::kNext;
}

// MOVD/MOVQ between XMM and a GPR or memory; S = 4 (MOVD) or 8 (MOVQ).
template <unsigned S>
bool build_movd(const DecodeContext& c, DecodedInsn& d) {
  if (is_xmm(c, 0) && is_xmm(c, 1) && S == 8) {
    d.reg = reg_number(c, 0);
    d.rm = reg_number(c, 1);
    d.handler = &movq_xmm_xmm;
  } else if (is_xmm(c, 0) && (is_gpr(c, 1) || is_mem(c, 1, S))) {
    const bool mem = c.kind[1] == OpKind::kMem;
    if (!mem && c.op_size(1) != S) return false;
    d.reg = reg_number(c, 0);
    if (!mem) d.rm = reg_number(c, 1);
    d.handler = mem ? &load_low_zero<S, true> : &load_low_zero<S, false>;
  } else if ((is_gpr(c, 0) || is_mem(c, 0, S)) && is_xmm(c, 1)) {
    const bool mem = c.kind[0] == OpKind::kMem;
    if (!mem && c.op_size(0) != S) return false;
    d.rm = reg_number(c, 1);
    if (!mem) d.reg = reg_number(c, 0);
    d.handler = mem ? &store_low<S, true> : &store_low<S, false>;
  } else {
    return false;  // MMX registers
  }
  return true;
}

// MOVSS/MOVSD xmm, xmm: only the low lane moves.
template <unsigned S>
Exec merge_low(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  Xmm& dst = xmm(v, d.reg);
  const uint64_t keep = S == 8 ? 0 : ~size_mask(S);
  dst.lo = (dst.lo & keep) | (xmm(v, d.rm).lo & size_mask(S));
  return Exec::kNext;
}

template <unsigned S>
bool build_movs_scalar(const DecodeContext& c, DecodedInsn& d) {
  if (is_xmm(c, 0) && is_xmm(c, 1)) {
    d.reg = reg_number(c, 0);
    d.rm = reg_number(c, 1);
    d.handler = &merge_low<S>;
  } else if (is_xmm(c, 0) && is_mem(c, 1, S)) {
    d.reg = reg_number(c, 0);
    d.handler = &load_low_zero<S, true>;
  } else if (is_mem(c, 0, S) && is_xmm(c, 1)) {
    d.rm = reg_number(c, 1);
    d.handler = &store_low<S, true>;
  } else {
    return false;
  }
  return true;
}

Builder g_string_movsd = nullptr;  // MOVSD is also the string move (insn_string.cc)

bool build_movsd(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0) && !is_xmm(c, 1)) return g_string_movsd != nullptr && g_string_movsd(c, d);
  return build_movs_scalar<8>(c, d);
}

// ---- half registers: MOVLPS MOVHPS MOVLPD MOVHPD MOVHLPS MOVLHPS ----

template <bool kHigh>
Exec load_half(Vcpu& v, const DecodedInsn& d) {
  uint64_t value;
  if (!sse_enabled(v) || !v.read<8>(v.effective_address(d), value)) return Exec::kFault;
  (kHigh ? xmm(v, d.reg).hi : xmm(v, d.reg).lo) = value;
  return Exec::kNext;
}

template <bool kHigh>
Exec store_half(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const Xmm& x = xmm(v, d.reg);
  return v.write<8>(v.effective_address(d), kHigh ? x.hi : x.lo) ? Exec::kNext : Exec::kFault;
}

// MOVHLPS: low half from the source's high half; MOVLHPS: high half from its low half.
template <bool kHighToLow>
Exec move_halves(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const Xmm src = xmm(v, d.rm);
  Xmm& dst = xmm(v, d.reg);
  if (kHighToLow) dst.lo = src.hi; else dst.hi = src.lo;
  return Exec::kNext;
}

template <bool kHigh>
bool build_half(const DecodeContext& c, DecodedInsn& d) {
  if (is_xmm(c, 0) && is_mem(c, 1, 8)) {
    d.reg = reg_number(c, 0);
    d.handler = &load_half<kHigh>;
  } else if (is_mem(c, 0, 8) && is_xmm(c, 1)) {
    d.reg = reg_number(c, 1);
    d.handler = &store_half<kHigh>;
  } else {
    return false;
  }
  return true;
}

template <bool kHighToLow>
bool build_move_halves(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0) || !is_xmm(c, 1)) return false;
  d.reg = reg_number(c, 0);
  d.rm = reg_number(c, 1);
  d.handler = &move_halves<kHighToLow>;
  return true;
}

// ---- MXCSR: LDMXCSR m32 (#GP(0) on a reserved bit), STMXCSR m32 ----

Exec ldmxcsr(Vcpu& v, const DecodedInsn& d) {
  uint64_t value;
  if (!sse_enabled(v) || !v.read<4>(v.effective_address(d), value)) return Exec::kFault;
  if (value & ~uint64_t{kMxcsrWritable}) return v.raise_gp0();
  v.state().fpu.mxcsr = static_cast<uint32_t>(value);
  return Exec::kNext;
}

Exec stmxcsr(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  return v.write<4>(v.effective_address(d), v.state().fpu.mxcsr) ? Exec::kNext : Exec::kFault;
}

template <Handler kFn>
bool build_m32(const DecodeContext& c, DecodedInsn& d) {
  if (!is_mem(c, 0, 4)) return false;
  d.handler = kFn;
  return true;
}

}  // namespace

void register_sse_moves() {
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVAPS, ZYDIS_MNEMONIC_MOVAPD, ZYDIS_MNEMONIC_MOVDQA}) {
    register_builder(m, &build_move<true>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVUPS, ZYDIS_MNEMONIC_MOVUPD, ZYDIS_MNEMONIC_MOVDQU}) {
    register_builder(m, &build_move<false>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVNTDQ, ZYDIS_MNEMONIC_MOVNTPS, ZYDIS_MNEMONIC_MOVNTPD}) {
    register_builder(m, &build_move_nt);
  }
  register_builder(ZYDIS_MNEMONIC_MOVNTI, &build_movnti);
  register_builder(ZYDIS_MNEMONIC_MOVD, &build_movd<4>);
  register_builder(ZYDIS_MNEMONIC_MOVQ, &build_movd<8>);
  register_builder(ZYDIS_MNEMONIC_MOVSS, &build_movs_scalar<4>);
  g_string_movsd = registered_builder(ZYDIS_MNEMONIC_MOVSD);
  register_builder(ZYDIS_MNEMONIC_MOVSD, &build_movsd);
  register_builder(ZYDIS_MNEMONIC_MOVLPS, &build_half<false>);
  register_builder(ZYDIS_MNEMONIC_MOVLPD, &build_half<false>);
  register_builder(ZYDIS_MNEMONIC_MOVHPS, &build_half<true>);
  register_builder(ZYDIS_MNEMONIC_MOVHPD, &build_half<true>);
  register_builder(ZYDIS_MNEMONIC_MOVHLPS, &build_move_halves<true>);
  register_builder(ZYDIS_MNEMONIC_MOVLHPS, &build_move_halves<false>);
  register_builder(ZYDIS_MNEMONIC_LDMXCSR, &build_m32<&ldmxcsr>);
  register_builder(ZYDIS_MNEMONIC_STMXCSR, &build_m32<&stmxcsr>);
}

}  // namespace densevm::cpu
