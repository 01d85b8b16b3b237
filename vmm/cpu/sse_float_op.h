// The handler shape of SSE floating-point instructions with an XMM destination
// (insn_sse_float.cc, insn_sse_convert.cc): run the host instruction on the destination and
// the source under the guest's MXCSR, apply the exception rules, write the result.
//
// A kernel K is a struct with
//   static __m128i run(__m128i dst, __m128i src, uint32_t& csr);   // the instruction
//   static constexpr ArithOp kOp;  bool kSingle;  unsigned kLanes;   // see unbounded_flags
//   static __m128i lane(__m128i dst, __m128i src, uint32_t& csr);  // its lane-0 form, when
//                                                                    // kOp is not kNone
// made by DENSEVM_FLOAT_KERNEL below.
//
//   DENSEVM_FLOAT_KERNEL(Addps, "addps", "addss", ArithOp::kAdd, true, 4)
//   Handler h = &float_op<Addps, Src::kM128>;
#pragma once

#include "vmm/cpu/sse_float.h"

namespace densevm::cpu {

#define DENSEVM_FLOAT_KERNEL(Name, insn, lane_insn, op, single, lanes)          \
  struct Name {                                                                 \
    static __m128i run(__m128i a, __m128i b, uint32_t& csr) {                   \
      DENSEVM_HOST_SSE(insn " %[y], %[x]", a, b, csr);                          \
      return a;                                                                 \
    }                                                                           \
    static __m128i lane(__m128i a, __m128i b, uint32_t& csr) {                  \
      DENSEVM_HOST_SSE(lane_insn " %[y], %[x]", a, b, csr);                     \
      return a;                                                                 \
    }                                                                           \
    static constexpr ArithOp kOp = op;                                          \
    [[maybe_unused]] static constexpr bool kSingle = single;                    \
    [[maybe_unused]] static constexpr unsigned kLanes = lanes;                  \
  };

template <class K, Src S>
Exec float_op(Vcpu& v, const DecodedInsn& d) {
  Xmm src;
  if (!sse_enabled(v) || !load_src<S>(v, d, src)) return Exec::kFault;
  Xmm& dst = xmm(v, d.reg);
  const uint32_t mxcsr = v.state().fpu.mxcsr;
  uint32_t csr = host_mxcsr(mxcsr);
  const Xmm result = to_xmm(K::run(to_m128i(dst), to_m128i(src), csr));
  uint32_t flags = csr & kMxcsrFlags;
  if constexpr (K::kOp != ArithOp::kNone) {
    if (needs_unbounded_flags(mxcsr, flags)) {
      flags = unbounded_flags(K::kOp, K::kSingle, K::kLanes, &K::lane, dst, src, mxcsr);
    }
  }
  if (!commit_simd_flags(v, flags)) return Exec::kFault;
  dst = result;
  return Exec::kNext;
}

// Forms of an (xmm, xmm/mem) float instruction; the memory operand is an aligned m128
// (packed), or m64 / m32 read into the low lane.
template <class K>
constexpr XmmForms float_forms(ZydisMnemonic m, Src mem) {
  switch (mem) {
    case Src::kM64: return {m, &float_op<K, Src::kXmm>, &float_op<K, Src::kM64>, 8};
    case Src::kM32: return {m, &float_op<K, Src::kXmm>, &float_op<K, Src::kM32>, 4};
    default: return {m, &float_op<K, Src::kXmm>, &float_op<K, Src::kM128>, 16};
  }
}

}  // namespace densevm::cpu
