// SSE2 packed integer arithmetic, comparisons and logic on XMM registers, and the bitwise
// logic of SSE/SSE2 (ANDPS ... XORPD, which raise no floating-point exception):
// PADD* PSUB* (wrapping, signed and unsigned saturating), PMULLW PMULHW PMULHUW PMULUDQ
// PMADDWD PSADBW PAVGB PAVGW PMINUB PMAXUB PMINSW PMAXSW PCMPEQ* PCMPGT* PAND PANDN POR PXOR.
//
// Each is the host's own SSE2 instruction on the same bits (via its intrinsic): integer
// SIMD has no modes or undefined results, so the host computes exactly what the SDM says.
// The memory form takes an aligned m128.
#include "vmm/cpu/sse.h"

namespace densevm::cpu {
namespace {

template <class Op, Src S>
Exec binary(Vcpu& v, const DecodedInsn& d) {
  Xmm src;
  if (!sse_enabled(v) || !load_src<S>(v, d, src)) return Exec::kFault;
  Xmm& dst = xmm(v, d.reg);
  dst = to_xmm(Op::run(to_m128i(dst), to_m128i(src)));
  return Exec::kNext;
}

#define DENSEVM_SSE_INT(Name, expr)                                      \
  struct Name {                                                          \
    static __m128i run(__m128i a, __m128i b) { return expr; }            \
  };

DENSEVM_SSE_INT(Paddb, _mm_add_epi8(a, b))
DENSEVM_SSE_INT(Paddw, _mm_add_epi16(a, b))
DENSEVM_SSE_INT(Paddd, _mm_add_epi32(a, b))
DENSEVM_SSE_INT(Paddq, _mm_add_epi64(a, b))
DENSEVM_SSE_INT(Psubb, _mm_sub_epi8(a, b))
DENSEVM_SSE_INT(Psubw, _mm_sub_epi16(a, b))
DENSEVM_SSE_INT(Psubd, _mm_sub_epi32(a, b))
DENSEVM_SSE_INT(Psubq, _mm_sub_epi64(a, b))
DENSEVM_SSE_INT(Paddsb, _mm_adds_epi8(a, b))
DENSEVM_SSE_INT(Paddsw, _mm_adds_epi16(a, b))
DENSEVM_SSE_INT(Paddusb, _mm_adds_epu8(a, b))
DENSEVM_SSE_INT(Paddusw, _mm_adds_epu16(a, b))
DENSEVM_SSE_INT(Psubsb, _mm_subs_epi8(a, b))
DENSEVM_SSE_INT(Psubsw, _mm_subs_epi16(a, b))
DENSEVM_SSE_INT(Psubusb, _mm_subs_epu8(a, b))
DENSEVM_SSE_INT(Psubusw, _mm_subs_epu16(a, b))
DENSEVM_SSE_INT(Pmullw, _mm_mullo_epi16(a, b))
DENSEVM_SSE_INT(Pmulhw, _mm_mulhi_epi16(a, b))
DENSEVM_SSE_INT(Pmulhuw, _mm_mulhi_epu16(a, b))
DENSEVM_SSE_INT(Pmuludq, _mm_mul_epu32(a, b))
DENSEVM_SSE_INT(Pmaddwd, _mm_madd_epi16(a, b))
DENSEVM_SSE_INT(Psadbw, _mm_sad_epu8(a, b))
DENSEVM_SSE_INT(Pavgb, _mm_avg_epu8(a, b))
DENSEVM_SSE_INT(Pavgw, _mm_avg_epu16(a, b))
DENSEVM_SSE_INT(Pminub, _mm_min_epu8(a, b))
DENSEVM_SSE_INT(Pmaxub, _mm_max_epu8(a, b))
DENSEVM_SSE_INT(Pminsw, _mm_min_epi16(a, b))
DENSEVM_SSE_INT(Pmaxsw, _mm_max_epi16(a, b))
DENSEVM_SSE_INT(Pcmpeqb, _mm_cmpeq_epi8(a, b))
DENSEVM_SSE_INT(Pcmpeqw, _mm_cmpeq_epi16(a, b))
DENSEVM_SSE_INT(Pcmpeqd, _mm_cmpeq_epi32(a, b))
DENSEVM_SSE_INT(Pcmpgtb, _mm_cmpgt_epi8(a, b))
DENSEVM_SSE_INT(Pcmpgtw, _mm_cmpgt_epi16(a, b))
DENSEVM_SSE_INT(Pcmpgtd, _mm_cmpgt_epi32(a, b))
DENSEVM_SSE_INT(And, _mm_and_si128(a, b))
DENSEVM_SSE_INT(AndNot, _mm_andnot_si128(a, b))  // (NOT a) AND b, as PANDN
DENSEVM_SSE_INT(Or, _mm_or_si128(a, b))
DENSEVM_SSE_INT(Xor, _mm_xor_si128(a, b))

#undef DENSEVM_SSE_INT

template <class Op>
constexpr XmmForms forms(ZydisMnemonic m) {
  return {m, &binary<Op, Src::kXmm>, &binary<Op, Src::kM128>, 16};
}

constexpr XmmForms kForms[] = {
    forms<Paddb>(ZYDIS_MNEMONIC_PADDB),     forms<Paddw>(ZYDIS_MNEMONIC_PADDW),
    forms<Paddd>(ZYDIS_MNEMONIC_PADDD),     forms<Paddq>(ZYDIS_MNEMONIC_PADDQ),
    forms<Psubb>(ZYDIS_MNEMONIC_PSUBB),     forms<Psubw>(ZYDIS_MNEMONIC_PSUBW),
    forms<Psubd>(ZYDIS_MNEMONIC_PSUBD),     forms<Psubq>(ZYDIS_MNEMONIC_PSUBQ),
    forms<Paddsb>(ZYDIS_MNEMONIC_PADDSB),   forms<Paddsw>(ZYDIS_MNEMONIC_PADDSW),
    forms<Paddusb>(ZYDIS_MNEMONIC_PADDUSB), forms<Paddusw>(ZYDIS_MNEMONIC_PADDUSW),
    forms<Psubsb>(ZYDIS_MNEMONIC_PSUBSB),   forms<Psubsw>(ZYDIS_MNEMONIC_PSUBSW),
    forms<Psubusb>(ZYDIS_MNEMONIC_PSUBUSB), forms<Psubusw>(ZYDIS_MNEMONIC_PSUBUSW),
    forms<Pmullw>(ZYDIS_MNEMONIC_PMULLW),   forms<Pmulhw>(ZYDIS_MNEMONIC_PMULHW),
    forms<Pmulhuw>(ZYDIS_MNEMONIC_PMULHUW), forms<Pmuludq>(ZYDIS_MNEMONIC_PMULUDQ),
    forms<Pmaddwd>(ZYDIS_MNEMONIC_PMADDWD), forms<Psadbw>(ZYDIS_MNEMONIC_PSADBW),
    forms<Pavgb>(ZYDIS_MNEMONIC_PAVGB),     forms<Pavgw>(ZYDIS_MNEMONIC_PAVGW),
    forms<Pminub>(ZYDIS_MNEMONIC_PMINUB),   forms<Pmaxub>(ZYDIS_MNEMONIC_PMAXUB),
    forms<Pminsw>(ZYDIS_MNEMONIC_PMINSW),   forms<Pmaxsw>(ZYDIS_MNEMONIC_PMAXSW),
    forms<Pcmpeqb>(ZYDIS_MNEMONIC_PCMPEQB), forms<Pcmpeqw>(ZYDIS_MNEMONIC_PCMPEQW),
    forms<Pcmpeqd>(ZYDIS_MNEMONIC_PCMPEQD), forms<Pcmpgtb>(ZYDIS_MNEMONIC_PCMPGTB),
    forms<Pcmpgtw>(ZYDIS_MNEMONIC_PCMPGTW), forms<Pcmpgtd>(ZYDIS_MNEMONIC_PCMPGTD),
    forms<And>(ZYDIS_MNEMONIC_PAND),        forms<AndNot>(ZYDIS_MNEMONIC_PANDN),
    forms<Or>(ZYDIS_MNEMONIC_POR),          forms<Xor>(ZYDIS_MNEMONIC_PXOR),
    forms<And>(ZYDIS_MNEMONIC_ANDPS),       forms<AndNot>(ZYDIS_MNEMONIC_ANDNPS),
    forms<Or>(ZYDIS_MNEMONIC_ORPS),         forms<Xor>(ZYDIS_MNEMONIC_XORPS),
    forms<And>(ZYDIS_MNEMONIC_ANDPD),       forms<AndNot>(ZYDIS_MNEMONIC_ANDNPD),
    forms<Or>(ZYDIS_MNEMONIC_ORPD),         forms<Xor>(ZYDIS_MNEMONIC_XORPD),
};

}  // namespace

void register_sse_integer() { register_xmm_forms(kForms, std::size(kForms)); }

}  // namespace densevm::cpu
