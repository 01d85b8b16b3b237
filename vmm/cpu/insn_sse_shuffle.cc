// SSE/SSE2 rearrangements and shifts: PUNPCKL/H{BW,WD,DQ,QDQ}, UNPCKL/HPS/PD, PACKSSWB
// PACKSSDW PACKUSWB, PSHUFD PSHUFLW PSHUFHW SHUFPS SHUFPD (imm8), PSLLW/D/Q PSRLW/D/Q
// PSRAW/D by an XMM/m128 count or an imm8, and the byte shifts PSLLDQ PSRLDQ.
//
// Fixed patterns run on the host's instruction through its intrinsic; the imm8-controlled
// ones are lane copies here (the intrinsics want compile-time immediates). A shift count is
// the whole low quadword (or the imm8): counts past the lane width give 0, or the sign for
// PSRA (SDM Vol 2B PSLLW/PSRAW).
#include <iterator>

#include "vmm/cpu/sse.h"

namespace densevm::cpu {
namespace {

template <class Op, Src S>
Exec binary(Vcpu& v, const DecodedInsn& d) {
  Xmm src;
  if (!sse_enabled(v) || !load_src<S>(v, d, src)) return Exec::kFault;
  Xmm& dst = xmm(v, d.reg);
  dst = Op::run(dst, src, static_cast<uint8_t>(d.imm));
  return Exec::kNext;
}

#define DENSEVM_SSE_FIXED(Name, expr)                                           \
  struct Name {                                                                 \
    static Xmm run(const Xmm& x, const Xmm& y, uint8_t) {                       \
      const __m128i a = to_m128i(x), b = to_m128i(y);                           \
      return to_xmm(expr);                                                      \
    }                                                                           \
  };

DENSEVM_SSE_FIXED(Punpcklbw, _mm_unpacklo_epi8(a, b))
DENSEVM_SSE_FIXED(Punpcklwd, _mm_unpacklo_epi16(a, b))
DENSEVM_SSE_FIXED(Punpckldq, _mm_unpacklo_epi32(a, b))
DENSEVM_SSE_FIXED(Punpcklqdq, _mm_unpacklo_epi64(a, b))
DENSEVM_SSE_FIXED(Punpckhbw, _mm_unpackhi_epi8(a, b))
DENSEVM_SSE_FIXED(Punpckhwd, _mm_unpackhi_epi16(a, b))
DENSEVM_SSE_FIXED(Punpckhdq, _mm_unpackhi_epi32(a, b))
DENSEVM_SSE_FIXED(Punpckhqdq, _mm_unpackhi_epi64(a, b))
DENSEVM_SSE_FIXED(Packsswb, _mm_packs_epi16(a, b))
DENSEVM_SSE_FIXED(Packssdw, _mm_packs_epi32(a, b))
DENSEVM_SSE_FIXED(Packuswb, _mm_packus_epi16(a, b))
// Shifts by the count in the source's low quadword.
DENSEVM_SSE_FIXED(Psllw, _mm_sll_epi16(a, b))
DENSEVM_SSE_FIXED(Pslld, _mm_sll_epi32(a, b))
DENSEVM_SSE_FIXED(Psllq, _mm_sll_epi64(a, b))
DENSEVM_SSE_FIXED(Psrlw, _mm_srl_epi16(a, b))
DENSEVM_SSE_FIXED(Psrld, _mm_srl_epi32(a, b))
DENSEVM_SSE_FIXED(Psrlq, _mm_srl_epi64(a, b))
DENSEVM_SSE_FIXED(Psraw, _mm_sra_epi16(a, b))
DENSEVM_SSE_FIXED(Psrad, _mm_sra_epi32(a, b))

#undef DENSEVM_SSE_FIXED

// PSHUFD: dword i of the result is source dword imm[2i+1:2i].
struct Pshufd {
  static Xmm run(const Xmm&, const Xmm& src, uint8_t imm) {
    Xmm r;
    for (unsigned i = 0; i < 4; ++i) r.set_lane<uint32_t>(i, src.lane<uint32_t>((imm >> (2 * i)) & 3));
    return r;
  }
};

// PSHUFLW / PSHUFHW: the same on the words of one half; the other half is copied.
template <bool kHigh>
struct Pshufw {
  static Xmm run(const Xmm&, const Xmm& src, uint8_t imm) {
    Xmm r = src;
    const unsigned base = kHigh ? 4 : 0;
    for (unsigned i = 0; i < 4; ++i) {
      r.set_lane<uint16_t>(base + i, src.lane<uint16_t>(base + ((imm >> (2 * i)) & 3)));
    }
    return r;
  }
};

// SHUFPS: the low two singles from the destination, the high two from the source.
struct Shufps {
  static Xmm run(const Xmm& dst, const Xmm& src, uint8_t imm) {
    Xmm r;
    r.set_lane<uint32_t>(0, dst.lane<uint32_t>(imm & 3));
    r.set_lane<uint32_t>(1, dst.lane<uint32_t>((imm >> 2) & 3));
    r.set_lane<uint32_t>(2, src.lane<uint32_t>((imm >> 4) & 3));
    r.set_lane<uint32_t>(3, src.lane<uint32_t>((imm >> 6) & 3));
    return r;
  }
};

struct Shufpd {
  static Xmm run(const Xmm& dst, const Xmm& src, uint8_t imm) {
    return Xmm{(imm & 1) ? dst.hi : dst.lo, (imm & 2) ? src.hi : src.lo};
  }
};

template <class Op>
constexpr XmmForms forms(ZydisMnemonic m, unsigned mem_bytes = 16) {
  return {m, &binary<Op, Src::kXmm>, &binary<Op, Src::kM128>, mem_bytes};
}

constexpr XmmForms kForms[] = {
    forms<Punpcklbw>(ZYDIS_MNEMONIC_PUNPCKLBW),   forms<Punpcklwd>(ZYDIS_MNEMONIC_PUNPCKLWD),
    forms<Punpckldq>(ZYDIS_MNEMONIC_PUNPCKLDQ),   forms<Punpcklqdq>(ZYDIS_MNEMONIC_PUNPCKLQDQ),
    forms<Punpckhbw>(ZYDIS_MNEMONIC_PUNPCKHBW),   forms<Punpckhwd>(ZYDIS_MNEMONIC_PUNPCKHWD),
    forms<Punpckhdq>(ZYDIS_MNEMONIC_PUNPCKHDQ),   forms<Punpckhqdq>(ZYDIS_MNEMONIC_PUNPCKHQDQ),
    forms<Punpckldq>(ZYDIS_MNEMONIC_UNPCKLPS),    forms<Punpckhdq>(ZYDIS_MNEMONIC_UNPCKHPS),
    forms<Punpcklqdq>(ZYDIS_MNEMONIC_UNPCKLPD),   forms<Punpckhqdq>(ZYDIS_MNEMONIC_UNPCKHPD),
    forms<Packsswb>(ZYDIS_MNEMONIC_PACKSSWB),     forms<Packssdw>(ZYDIS_MNEMONIC_PACKSSDW),
    forms<Packuswb>(ZYDIS_MNEMONIC_PACKUSWB),
    forms<Pshufd>(ZYDIS_MNEMONIC_PSHUFD),         forms<Pshufw<false>>(ZYDIS_MNEMONIC_PSHUFLW),
    forms<Pshufw<true>>(ZYDIS_MNEMONIC_PSHUFHW),  forms<Shufps>(ZYDIS_MNEMONIC_SHUFPS),
    forms<Shufpd>(ZYDIS_MNEMONIC_SHUFPD),
};

// ---- shifts: (xmm, xmm/m128) count forms share a mnemonic with (xmm, imm8) ----

struct Shift {
  ZydisMnemonic mnemonic;
  XmmForms by_register;
  Handler by_imm;
};

// The imm8 form: the count is the (unsigned) imm8 itself.
template <class Op>
Exec shift_imm(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  Xmm& dst = xmm(v, d.reg);
  dst = Op::run(dst, Xmm{d.imm & 0xff, 0}, 0);
  return Exec::kNext;
}

// PSLLDQ / PSRLDQ xmm, imm8: whole-register byte shifts; counts over 15 clear it.
template <bool kLeft>
Exec byte_shift(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const unsigned n = static_cast<unsigned>(d.imm & 0xff);
  uint8_t in[16], out[16] = {};
  Xmm& x = xmm(v, d.reg);
  std::memcpy(in, &x, 16);
  for (unsigned i = 0; i < 16; ++i) {
    if (kLeft && i >= n) out[i] = in[i - n];
    if (!kLeft && i + n < 16) out[i] = in[i + n];
  }
  std::memcpy(&x, out, 16);
  return Exec::kNext;
}

template <class Op>
constexpr Shift shift(ZydisMnemonic m) {
  return {m, forms<Op>(m), &shift_imm<Op>};
}

constexpr Shift kShifts[] = {
    shift<Psllw>(ZYDIS_MNEMONIC_PSLLW), shift<Pslld>(ZYDIS_MNEMONIC_PSLLD),
    shift<Psllq>(ZYDIS_MNEMONIC_PSLLQ), shift<Psrlw>(ZYDIS_MNEMONIC_PSRLW),
    shift<Psrld>(ZYDIS_MNEMONIC_PSRLD), shift<Psrlq>(ZYDIS_MNEMONIC_PSRLQ),
    shift<Psraw>(ZYDIS_MNEMONIC_PSRAW), shift<Psrad>(ZYDIS_MNEMONIC_PSRAD),
};

bool build_shift(const DecodeContext& c, DecodedInsn& d) {
  for (const Shift& s : kShifts) {
    if (s.mnemonic != c.insn.mnemonic) continue;
    if (c.explicit_count == 2 && is_xmm(c, 0) && c.kind[1] == OpKind::kImm) {
      d.reg = reg_number(c, 0);
      d.handler = s.by_imm;
      return true;
    }
    return build_xmm_forms(c, d, s.by_register);
  }
  return false;
}

template <bool kLeft>
bool build_byte_shift(const DecodeContext& c, DecodedInsn& d) {
  if (c.explicit_count != 2 || !is_xmm(c, 0) || c.kind[1] != OpKind::kImm) return false;
  d.reg = reg_number(c, 0);
  d.handler = &byte_shift<kLeft>;
  return true;
}

}  // namespace

void register_sse_shuffles() {
  register_xmm_forms(kForms, std::size(kForms));
  for (const Shift& s : kShifts) register_builder(s.mnemonic, &build_shift);
  register_builder(ZYDIS_MNEMONIC_PSLLDQ, &build_byte_shift<true>);
  register_builder(ZYDIS_MNEMONIC_PSRLDQ, &build_byte_shift<false>);
}

}  // namespace densevm::cpu
