// SSE/SSE2 floating-point arithmetic, packed (PS, PD) and scalar (SS, SD): ADD SUB MUL DIV
// MIN MAX SQRT, the CMPcc predicates of CMPPS CMPPD CMPSS CMPSD, and COMISS UCOMISS COMISD
// UCOMISD into RFLAGS. Results and NaN rules are the host's (the same instruction under the
// guest's MXCSR, see sse_float.h); the exception rules are SDM Vol 1 §11.5.
#include <iterator>

#include "vmm/cpu/sse_float_op.h"

namespace densevm::cpu {
namespace {

using A = ArithOp;

DENSEVM_FLOAT_KERNEL(Addps, "addps", "addss", A::kAdd, true, 4)
DENSEVM_FLOAT_KERNEL(Addss, "addss", "addss", A::kAdd, true, 1)
DENSEVM_FLOAT_KERNEL(Addpd, "addpd", "addsd", A::kAdd, false, 2)
DENSEVM_FLOAT_KERNEL(Addsd, "addsd", "addsd", A::kAdd, false, 1)
DENSEVM_FLOAT_KERNEL(Subps, "subps", "subss", A::kSub, true, 4)
DENSEVM_FLOAT_KERNEL(Subss, "subss", "subss", A::kSub, true, 1)
DENSEVM_FLOAT_KERNEL(Subpd, "subpd", "subsd", A::kSub, false, 2)
DENSEVM_FLOAT_KERNEL(Subsd, "subsd", "subsd", A::kSub, false, 1)
DENSEVM_FLOAT_KERNEL(Mulps, "mulps", "mulss", A::kMul, true, 4)
DENSEVM_FLOAT_KERNEL(Mulss, "mulss", "mulss", A::kMul, true, 1)
DENSEVM_FLOAT_KERNEL(Mulpd, "mulpd", "mulsd", A::kMul, false, 2)
DENSEVM_FLOAT_KERNEL(Mulsd, "mulsd", "mulsd", A::kMul, false, 1)
DENSEVM_FLOAT_KERNEL(Divps, "divps", "divss", A::kDiv, true, 4)
DENSEVM_FLOAT_KERNEL(Divss, "divss", "divss", A::kDiv, true, 1)
DENSEVM_FLOAT_KERNEL(Divpd, "divpd", "divsd", A::kDiv, false, 2)
DENSEVM_FLOAT_KERNEL(Divsd, "divsd", "divsd", A::kDiv, false, 1)
// No overflow or underflow possible: the masked run's flags are the answer.
DENSEVM_FLOAT_KERNEL(Minps, "minps", "minss", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Minss, "minss", "minss", A::kNone, true, 1)
DENSEVM_FLOAT_KERNEL(Minpd, "minpd", "minsd", A::kNone, false, 2)
DENSEVM_FLOAT_KERNEL(Minsd, "minsd", "minsd", A::kNone, false, 1)
DENSEVM_FLOAT_KERNEL(Maxps, "maxps", "maxss", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Maxss, "maxss", "maxss", A::kNone, true, 1)
DENSEVM_FLOAT_KERNEL(Maxpd, "maxpd", "maxsd", A::kNone, false, 2)
DENSEVM_FLOAT_KERNEL(Maxsd, "maxsd", "maxsd", A::kNone, false, 1)
DENSEVM_FLOAT_KERNEL(Sqrtps, "sqrtps", "sqrtss", A::kNone, true, 4)
DENSEVM_FLOAT_KERNEL(Sqrtss, "sqrtss", "sqrtss", A::kNone, true, 1)
DENSEVM_FLOAT_KERNEL(Sqrtpd, "sqrtpd", "sqrtsd", A::kNone, false, 2)
DENSEVM_FLOAT_KERNEL(Sqrtsd, "sqrtsd", "sqrtsd", A::kNone, false, 1)

constexpr XmmForms kForms[] = {
    float_forms<Addps>(ZYDIS_MNEMONIC_ADDPS, Src::kM128),
    float_forms<Addss>(ZYDIS_MNEMONIC_ADDSS, Src::kM32),
    float_forms<Addpd>(ZYDIS_MNEMONIC_ADDPD, Src::kM128),
    float_forms<Addsd>(ZYDIS_MNEMONIC_ADDSD, Src::kM64),
    float_forms<Subps>(ZYDIS_MNEMONIC_SUBPS, Src::kM128),
    float_forms<Subss>(ZYDIS_MNEMONIC_SUBSS, Src::kM32),
    float_forms<Subpd>(ZYDIS_MNEMONIC_SUBPD, Src::kM128),
    float_forms<Subsd>(ZYDIS_MNEMONIC_SUBSD, Src::kM64),
    float_forms<Mulps>(ZYDIS_MNEMONIC_MULPS, Src::kM128),
    float_forms<Mulss>(ZYDIS_MNEMONIC_MULSS, Src::kM32),
    float_forms<Mulpd>(ZYDIS_MNEMONIC_MULPD, Src::kM128),
    float_forms<Mulsd>(ZYDIS_MNEMONIC_MULSD, Src::kM64),
    float_forms<Divps>(ZYDIS_MNEMONIC_DIVPS, Src::kM128),
    float_forms<Divss>(ZYDIS_MNEMONIC_DIVSS, Src::kM32),
    float_forms<Divpd>(ZYDIS_MNEMONIC_DIVPD, Src::kM128),
    float_forms<Divsd>(ZYDIS_MNEMONIC_DIVSD, Src::kM64),
    float_forms<Minps>(ZYDIS_MNEMONIC_MINPS, Src::kM128),
    float_forms<Minss>(ZYDIS_MNEMONIC_MINSS, Src::kM32),
    float_forms<Minpd>(ZYDIS_MNEMONIC_MINPD, Src::kM128),
    float_forms<Minsd>(ZYDIS_MNEMONIC_MINSD, Src::kM64),
    float_forms<Maxps>(ZYDIS_MNEMONIC_MAXPS, Src::kM128),
    float_forms<Maxss>(ZYDIS_MNEMONIC_MAXSS, Src::kM32),
    float_forms<Maxpd>(ZYDIS_MNEMONIC_MAXPD, Src::kM128),
    float_forms<Maxsd>(ZYDIS_MNEMONIC_MAXSD, Src::kM64),
    float_forms<Sqrtps>(ZYDIS_MNEMONIC_SQRTPS, Src::kM128),
    float_forms<Sqrtss>(ZYDIS_MNEMONIC_SQRTSS, Src::kM32),
    float_forms<Sqrtpd>(ZYDIS_MNEMONIC_SQRTPD, Src::kM128),
    float_forms<Sqrtsd>(ZYDIS_MNEMONIC_SQRTSD, Src::kM64),
};

// ---- CMPPS CMPPD CMPSS CMPSD xmm, xmm/m, imm8: the predicate is imm8[2:0] (legacy SSE
// encodings ignore bits 7:3), one kernel per predicate since it is the host's immediate ----

#define DENSEVM_CMP_KERNEL(Name, insn, single, lanes)                                      \
  template <int P>                                                                         \
  struct Name {                                                                            \
    static __m128i run(__m128i a, __m128i b, uint32_t& csr) {                              \
      uint32_t host;                                                                       \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn                                 \
                   " %[p], %[y], %[x]\n\tstmxcsr %[c]\n\tldmxcsr %[h]"                      \
                   : [x] "+x"(a), [c] "+m"(csr), [h] "=m"(host)                            \
                   : [y] "x"(b), [p] "i"(P));                                              \
      return a;                                                                            \
    }                                                                                      \
    static constexpr ArithOp kOp = ArithOp::kNone;                                         \
    static constexpr bool kSingle = single;                                                \
    static constexpr unsigned kLanes = lanes;                                              \
  };

DENSEVM_CMP_KERNEL(Cmpps, "cmpps", true, 4)
DENSEVM_CMP_KERNEL(Cmpss, "cmpss", true, 1)
DENSEVM_CMP_KERNEL(Cmppd, "cmppd", false, 2)
DENSEVM_CMP_KERNEL(Cmpsd, "cmpsd", false, 1)

#undef DENSEVM_CMP_KERNEL

template <template <int> class K, Src S>
constexpr Handler kCmpHandlers[8] = {&float_op<K<0>, S>, &float_op<K<1>, S>, &float_op<K<2>, S>,
                                     &float_op<K<3>, S>, &float_op<K<4>, S>, &float_op<K<5>, S>,
                                     &float_op<K<6>, S>, &float_op<K<7>, S>};

template <template <int> class K, Src kMem, unsigned kMemBytes>
bool build_cmp(const DecodeContext& c, DecodedInsn& d) {
  if (c.explicit_count != 3 || c.kind[2] != OpKind::kImm) return false;
  const unsigned p = static_cast<unsigned>(d.imm & 7);
  return build_xmm_forms(c, d, {c.insn.mnemonic, kCmpHandlers<K, Src::kXmm>[p],
                                kCmpHandlers<K, kMem>[p], kMemBytes});
}

Builder g_string_cmpsd = nullptr;  // CMPSD is also the string compare (insn_string.cc)

bool build_cmpsd(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0)) return g_string_cmpsd != nullptr && g_string_cmpsd(c, d);
  return build_cmp<Cmpsd, Src::kM64, 8>(c, d);
}

// ---- COMISS UCOMISS COMISD UCOMISD: ZF PF CF from the comparison, OF SF AF cleared;
// unordered sets all three. COMIS signals IE on any NaN, UCOMIS only on SNaN. ----

#define DENSEVM_COMI_KERNEL(Name, insn)                                                    \
  struct Name {                                                                            \
    static uint64_t run(__m128i a, __m128i b, uint32_t& csr) {                             \
      uint32_t host;                                                                       \
      uint8_t z, p, c;                                                                     \
      asm volatile("stmxcsr %[h]\n\tldmxcsr %[csr]\n\t" insn                               \
                   " %[y], %[x]\n\tsetz %[z]\n\tsetp %[p]\n\tsetc %[c]\n\t"                 \
                   "stmxcsr %[csr]\n\tldmxcsr %[h]"                                        \
                   : [csr] "+m"(csr), [h] "=m"(host), [z] "=q"(z), [p] "=q"(p), [c] "=q"(c) \
                   : [x] "x"(a), [y] "x"(b)                                                \
                   : "cc");                                                                \
      return (z ? kFlagZf : 0) | (p ? kFlagPf : 0) | (c ? kFlagCf : 0);                     \
    }                                                                                      \
  };

DENSEVM_COMI_KERNEL(Comiss, "comiss")
DENSEVM_COMI_KERNEL(Ucomiss, "ucomiss")
DENSEVM_COMI_KERNEL(Comisd, "comisd")
DENSEVM_COMI_KERNEL(Ucomisd, "ucomisd")

#undef DENSEVM_COMI_KERNEL

template <class K, Src S>
Exec compare_to_flags(Vcpu& v, const DecodedInsn& d) {
  Xmm src;
  if (!sse_enabled(v) || !load_src<S>(v, d, src)) return Exec::kFault;
  uint32_t csr = host_mxcsr(v.state().fpu.mxcsr);
  const uint64_t bits = K::run(to_m128i(xmm(v, d.reg)), to_m128i(src), csr);
  if (!commit_simd_flags(v, csr & kMxcsrFlags)) return Exec::kFault;
  v.set_arith_flags(kFlagsArith, bits);
  return Exec::kNext;
}

template <class K, Src kMem, unsigned kMemBytes>
constexpr XmmForms comi_forms(ZydisMnemonic m) {
  return {m, &compare_to_flags<K, Src::kXmm>, &compare_to_flags<K, kMem>, kMemBytes};
}

constexpr XmmForms kCompareForms[] = {
    comi_forms<Comiss, Src::kM32, 4>(ZYDIS_MNEMONIC_COMISS),
    comi_forms<Ucomiss, Src::kM32, 4>(ZYDIS_MNEMONIC_UCOMISS),
    comi_forms<Comisd, Src::kM64, 8>(ZYDIS_MNEMONIC_COMISD),
    comi_forms<Ucomisd, Src::kM64, 8>(ZYDIS_MNEMONIC_UCOMISD),
};

}  // namespace

void register_sse_float() {
  register_xmm_forms(kForms, std::size(kForms));
  register_xmm_forms(kCompareForms, std::size(kCompareForms));
  register_builder(ZYDIS_MNEMONIC_CMPPS, &build_cmp<Cmpps, Src::kM128, 16>);
  register_builder(ZYDIS_MNEMONIC_CMPPD, &build_cmp<Cmppd, Src::kM128, 16>);
  register_builder(ZYDIS_MNEMONIC_CMPSS, &build_cmp<Cmpss, Src::kM32, 4>);
  g_string_cmpsd = registered_builder(ZYDIS_MNEMONIC_CMPSD);
  register_builder(ZYDIS_MNEMONIC_CMPSD, &build_cmpsd);
}

}  // namespace densevm::cpu
