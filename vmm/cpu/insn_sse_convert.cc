// SSE/SSE2 conversions: between XMM lanes (CVTSS2SD CVTSD2SS CVTDQ2PS CVTDQ2PD CVTPS2DQ
// CVTTPS2DQ CVTPD2DQ CVTTPD2DQ CVTPS2PD CVTPD2PS), from a GPR or memory integer (CVTSI2SS
// CVTSI2SD) and to a GPR (CVTSS2SI CVTTSS2SI CVTSD2SI CVTTSD2SI). Each is the host's
// instruction under the guest's MXCSR (sse_float.h): a NaN or out-of-range value converts to
// the integer indefinite (the sign bit alone) with IE, as the SDM defines.
#include <iterator>

#include "vmm/cpu/sse_float_op.h"

namespace densevm::cpu {
namespace {

using A = ArithOp;

DENSEVM_FLOAT_KERNEL(Cvtss2sd, "cvtss2sd", "cvtss2sd", A::kNone, true, 1)
DENSEVM_FLOAT_KERNEL(Cvtsd2ss, "cvtsd2ss", "cvtsd2ss", A::kNarrow, false, 1)
DENSEVM_FLOAT_KERNEL(Cvtps2pd, "cvtps2pd", "cvtss2sd", A::kNone, true, 2)
DENSEVM_FLOAT_KERNEL(Cvtpd2ps, "cvtpd2ps", "cvtsd2ss", A::kNarrow, false, 2)
DENSEVM_FLOAT_KERNEL(Cvtdq2ps, "cvtdq2ps", "cvtdq2ps", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Cvtdq2pd, "cvtdq2pd", "cvtdq2pd", A::kNone, true, 2)
DENSEVM_FLOAT_KERNEL(Cvtps2dq, "cvtps2dq", "cvtps2dq", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Cvttps2dq, "cvttps2dq", "cvttps2dq", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Cvtpd2dq, "cvtpd2dq", "cvtpd2dq", A::kNone, false, 2)
DENSEVM_FLOAT_KERNEL(Cvttpd2dq, "cvttpd2dq", "cvttpd2dq", A::kNone, false, 2)

constexpr XmmForms kForms[] = {
    float_forms<Cvtss2sd>(ZYDIS_MNEMONIC_CVTSS2SD, Src::kM32),
    float_forms<Cvtsd2ss>(ZYDIS_MNEMONIC_CVTSD2SS, Src::kM64),
    float_forms<Cvtps2pd>(ZYDIS_MNEMONIC_CVTPS2PD, Src::kM64),
    float_forms<Cvtpd2ps>(ZYDIS_MNEMONIC_CVTPD2PS, Src::kM128),
    float_forms<Cvtdq2ps>(ZYDIS_MNEMONIC_CVTDQ2PS, Src::kM128),
    float_forms<Cvtdq2pd>(ZYDIS_MNEMONIC_CVTDQ2PD, Src::kM64),
    float_forms<Cvtps2dq>(ZYDIS_MNEMONIC_CVTPS2DQ, Src::kM128),
    float_forms<Cvttps2dq>(ZYDIS_MNEMONIC_CVTTPS2DQ, Src::kM128),
    float_forms<Cvtpd2dq>(ZYDIS_MNEMONIC_CVTPD2DQ, Src::kM128),
    float_forms<Cvttpd2dq>(ZYDIS_MNEMONIC_CVTTPD2DQ, Src::kM128),
};

// ---- CVTSI2SS / CVTSI2SD xmm, r/m32 or r/m64: the low lane of the destination ----

#define DENSEVM_FROM_INT(Name, insn32, insn64)                                             \
  template <unsigned S>                                                                    \
  __m128i Name(__m128i a, uint64_t g, uint32_t& csr) {                                     \
    uint32_t host;                                                                         \
    if constexpr (S == 4) {                                                                \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn32 " %k[g], %[x]\n\t"            \
                   "stmxcsr %[c]\n\tldmxcsr %[h]"                                          \
                   : [x] "+x"(a), [c] "+m"(csr), [h] "=m"(host) : [g] "r"(g));             \
    } else {                                                                               \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn64 " %q[g], %[x]\n\t"            \
                   "stmxcsr %[c]\n\tldmxcsr %[h]"                                          \
                   : [x] "+x"(a), [c] "+m"(csr), [h] "=m"(host) : [g] "r"(g));             \
    }                                                                                      \
    return a;                                                                              \
  }

DENSEVM_FROM_INT(cvtsi2ss, "cvtsi2ssl", "cvtsi2ssq")
DENSEVM_FROM_INT(cvtsi2sd, "cvtsi2sdl", "cvtsi2sdq")

#undef DENSEVM_FROM_INT

template <bool kDouble, unsigned S, bool kMem>
Exec from_int(Vcpu& v, const DecodedInsn& d) {
  uint64_t g;
  if (!sse_enabled(v)) return Exec::kFault;
  if constexpr (kMem) {
    if (!v.read<S>(v.effective_address(d), g)) return Exec::kFault;
  } else {
    g = v.reg<S>(d.rm);
  }
  Xmm& dst = xmm(v, d.reg);
  uint32_t csr = host_mxcsr(v.state().fpu.mxcsr);
  const __m128i r = kDouble ? cvtsi2sd<S>(to_m128i(dst), g, csr) : cvtsi2ss<S>(to_m128i(dst), g, csr);
  if (!commit_simd_flags(v, csr & kMxcsrFlags)) return Exec::kFault;
  dst = to_xmm(r);
  return Exec::kNext;
}

template <bool kDouble>
bool build_from_int(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0)) return false;
  d.reg = reg_number(c, 0);
  const unsigned size = c.op_size(1);
  if (size != 4 && size != 8) return false;
  if (is_gpr(c, 1)) {
    d.rm = reg_number(c, 1);
    d.handler = size == 8 ? &from_int<kDouble, 8, false> : &from_int<kDouble, 4, false>;
  } else if (c.kind[1] == OpKind::kMem) {
    d.handler = size == 8 ? &from_int<kDouble, 8, true> : &from_int<kDouble, 4, true>;
  } else {
    return false;
  }
  return true;
}

// ---- CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m: the low lane to a GPR ----

#define DENSEVM_TO_INT(Name, insn)                                                         \
  template <unsigned S>                                                                    \
  uint64_t Name(__m128i a, uint32_t& csr) {                                                \
    uint32_t host;                                                                         \
    uint64_t g = 0;                                                                        \
    if constexpr (S == 4) {                                                                \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[x], %k[g]\n\t"              \
                   "stmxcsr %[c]\n\tldmxcsr %[h]"                                          \
                   : [g] "+r"(g), [c] "+m"(csr), [h] "=m"(host) : [x] "x"(a));             \
    } else {                                                                               \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[x], %q[g]\n\t"              \
                   "stmxcsr %[c]\n\tldmxcsr %[h]"                                          \
                   : [g] "+r"(g), [c] "+m"(csr), [h] "=m"(host) : [x] "x"(a));             \
    }                                                                                      \
    return g;                                                                              \
  }

DENSEVM_TO_INT(cvtss2si, "cvtss2si")
DENSEVM_TO_INT(cvttss2si, "cvttss2si")
DENSEVM_TO_INT(cvtsd2si, "cvtsd2si")
DENSEVM_TO_INT(cvttsd2si, "cvttsd2si")

#undef DENSEVM_TO_INT

enum class ToInt : uint8_t { kSs, kTss, kSd, kTsd };

template <ToInt K, unsigned S, Src Source>
Exec to_int(Vcpu& v, const DecodedInsn& d) {
  Xmm src;
  if (!sse_enabled(v) || !load_src<Source>(v, d, src)) return Exec::kFault;
  uint32_t csr = host_mxcsr(v.state().fpu.mxcsr);
  const __m128i x = to_m128i(src);
  uint64_t g;
  if constexpr (K == ToInt::kSs) g = cvtss2si<S>(x, csr);
  else if constexpr (K == ToInt::kTss) g = cvttss2si<S>(x, csr);
  else if constexpr (K == ToInt::kSd) g = cvtsd2si<S>(x, csr);
  else g = cvttsd2si<S>(x, csr);
  if (!commit_simd_flags(v, csr & kMxcsrFlags)) return Exec::kFault;
  v.set_reg<S>(d.reg, g);  // a 32-bit result zero-extends, as any 32-bit GPR write
  return Exec::kNext;
}

template <ToInt K>
bool build_to_int(const DecodeContext& c, DecodedInsn& d) {
  constexpr bool kSingle = K == ToInt::kSs || K == ToInt::kTss;
  constexpr Src kMem = kSingle ? Src::kM32 : Src::kM64;
  if (!is_gpr(c, 0)) return false;
  d.reg = reg_number(c, 0);
  const bool wide = c.op_size(0) == 8;
  if (is_xmm(c, 1)) {
    d.rm = reg_number(c, 1);
    d.handler = wide ? &to_int<K, 8, Src::kXmm> : &to_int<K, 4, Src::kXmm>;
  } else if (is_mem(c, 1, kSingle ? 4 : 8)) {
    d.handler = wide ? &to_int<K, 8, kMem> : &to_int<K, 4, kMem>;
  } else {
    return false;
  }
  return true;
}

}  // namespace

void register_sse_conversions() {
  register_xmm_forms(kForms, std::size(kForms));
  register_builder(ZYDIS_MNEMONIC_CVTSI2SS, &build_from_int<false>);
  register_builder(ZYDIS_MNEMONIC_CVTSI2SD, &build_from_int<true>);
  register_builder(ZYDIS_MNEMONIC_CVTSS2SI, &build_to_int<ToInt::kSs>);
  register_builder(ZYDIS_MNEMONIC_CVTTSS2SI, &build_to_int<ToInt::kTss>);
  register_builder(ZYDIS_MNEMONIC_CVTSD2SI, &build_to_int<ToInt::kSd>);
  register_builder(ZYDIS_MNEMONIC_CVTTSD2SI, &build_to_int<ToInt::kTsd>);
}

}  // namespace densevm::cpu
