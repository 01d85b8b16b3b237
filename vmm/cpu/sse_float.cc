#include "vmm/cpu/sse_float.h"

#include <cfloat>
#include <cmath>

namespace densevm::cpu {
namespace {

// x87 precision control (SDM Vol 1 §8.1.5.2): 24 or 53 significand bits; the exponent keeps
// its 15 bits, wide enough that no single or double operation overflows or underflows it.
constexpr uint16_t kPc24 = 0u << 8, kPc53 = 2u << 8;

// The x87 control word for a rounding: all exceptions masked, RC as MXCSR's (same encoding).
uint16_t x87_control(unsigned precision, uint32_t mxcsr) {
  return static_cast<uint16_t>(0x3f | precision | ((mxcsr & kMxcsrRc) >> 13) << 10);
}

// One x87 operation st(0) = load(a) OP b, rounded by `cw`; *inexact: it raised PE.
#define DENSEVM_X87_ROUND(Name, load, insn)                                                  \
  template <class T>                                                                         \
  long double Name(T a, T b, uint16_t cw, bool& inexact) {                                   \
    long double r;                                                                           \
    uint16_t saved, sw;                                                                      \
    asm volatile("fnstcw %[saved]\n\tfldcw %[cw]\n\tfnclex\n\t" load " %[a]\n\t" insn       \
                 " %[b]\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfnclex\n\tfldcw %[saved]"           \
                 : [saved] "=m"(saved), [sw] "=m"(sw), [r] "=m"(r)                           \
                 : [cw] "m"(cw), [a] "m"(a), [b] "m"(b)                                      \
                 : "st");                                                                    \
    inexact = (sw & kMxcsrPe) != 0;                                                          \
    return r;                                                                                \
  }

DENSEVM_X87_ROUND(add32, "flds", "fadds")
DENSEVM_X87_ROUND(sub32, "flds", "fsubs")
DENSEVM_X87_ROUND(mul32, "flds", "fmuls")
DENSEVM_X87_ROUND(div32, "flds", "fdivs")
DENSEVM_X87_ROUND(add64, "fldl", "faddl")
DENSEVM_X87_ROUND(sub64, "fldl", "fsubl")
DENSEVM_X87_ROUND(mul64, "fldl", "fmull")
DENSEVM_X87_ROUND(div64, "fldl", "fdivl")

#undef DENSEVM_X87_ROUND

template <class Bits>
bool is_denormal(Bits bits) {
  constexpr unsigned kMantissa = sizeof(Bits) == 4 ? 23 : 52;
  constexpr Bits kExponent = sizeof(Bits) == 4 ? Bits{0xff} << 23 : Bits{0x7ff} << 52;
  return (bits & kExponent) == 0 && (bits & ((Bits{1} << kMantissa) - 1)) != 0;
}

// DAZ: a denormal operand counts as a zero of its sign (SDM Vol 1 §10.2.3.4).
template <class Bits>
Bits apply_daz(Bits bits, uint32_t mxcsr) {
  if (!(mxcsr & kMxcsrDaz) || !is_denormal(bits)) return bits;
  return bits & (Bits{1} << (sizeof(Bits) * 8 - 1));
}

template <class T, class Bits>
T as_float(Bits bits) {
  T v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// The operation on one lane, rounded with unbounded exponent to the result's precision.
long double round_unbounded(ArithOp op, bool single, const Xmm& a, const Xmm& b, unsigned i,
                            uint32_t mxcsr, bool& inexact) {
  if (op == ArithOp::kNarrow) {
    const double x = as_float<double>(apply_daz(b.lane<uint64_t>(i), mxcsr));
    return mul64(x, 1.0, x87_control(kPc24, mxcsr), inexact);
  }
  if (single) {
    const float x = as_float<float>(apply_daz(a.lane<uint32_t>(i), mxcsr));
    const float y = as_float<float>(apply_daz(b.lane<uint32_t>(i), mxcsr));
    const uint16_t cw = x87_control(kPc24, mxcsr);
    switch (op) {
      case ArithOp::kAdd: return add32(x, y, cw, inexact);
      case ArithOp::kSub: return sub32(x, y, cw, inexact);
      case ArithOp::kMul: return mul32(x, y, cw, inexact);
      default: return div32(x, y, cw, inexact);
    }
  }
  const double x = as_float<double>(apply_daz(a.lane<uint64_t>(i), mxcsr));
  const double y = as_float<double>(apply_daz(b.lane<uint64_t>(i), mxcsr));
  const uint16_t cw = x87_control(kPc53, mxcsr);
  switch (op) {
    case ArithOp::kAdd: return add64(x, y, cw, inexact);
    case ArithOp::kSub: return sub64(x, y, cw, inexact);
    case ArithOp::kMul: return mul64(x, y, cw, inexact);
    default: return div64(x, y, cw, inexact);
  }
}

// Lane i of x moved to lane 0 (the rest zero), for a scalar run of one lane.
Xmm lane_to_front(const Xmm& x, unsigned i, unsigned lane_bytes) {
  Xmm r;
  std::memcpy(&r, reinterpret_cast<const uint8_t*>(&x) + i * lane_bytes, lane_bytes);
  return r;
}

}  // namespace

bool commit_simd_flags(Vcpu& v, uint32_t flags) {
  uint32_t& mxcsr = v.state().fpu.mxcsr;
  const uint32_t unmasked = flags & ~(mxcsr >> kMxcsrMaskShift) & kMxcsrFlags;
  if (unmasked & kMxcsrPreComputation) {
    mxcsr |= flags & kMxcsrPreComputation;
  } else {
    mxcsr |= flags;
    if (!unmasked) return true;
  }
  v.raise((v.state().cr4 & kCr4Osxmmexcpt) ? kVecXm : kVecUd);
  return false;
}

uint32_t unbounded_flags(ArithOp op, bool single, unsigned lanes, LaneKernel lane,
                         const Xmm& a, const Xmm& b, uint32_t mxcsr) {
  const uint32_t unmasked = ~(mxcsr >> kMxcsrMaskShift) & kMxcsrFlags;
  const bool single_result = single || op == ArithOp::kNarrow;
  const unsigned in_bytes = single && op != ArithOp::kNarrow ? 4 : 8;
  const long double max = single_result ? FLT_MAX : DBL_MAX;
  const long double min_normal = single_result ? FLT_MIN : DBL_MIN;
  uint32_t flags = 0;
  for (unsigned i = 0; i < lanes; ++i) {
    uint32_t csr = host_mxcsr(mxcsr);
    (void)lane(to_m128i(lane_to_front(a, i, in_bytes)), to_m128i(lane_to_front(b, i, in_bytes)), csr);
    const uint32_t masked = csr & kMxcsrFlags;
    flags |= masked & kMxcsrPreComputation;
    if (masked & (kMxcsrIe | kMxcsrZe)) continue;  // a NaN or an exact infinity: no rounding
    bool inexact = false;
    const long double r = std::fabs(round_unbounded(op, single, a, b, i, mxcsr, inexact));
    // An infinite or NaN operand gives an exact infinity or a NaN: no overflow, no rounding.
    // (The x87's exponent range is wide enough that finite operands give a finite r.)
    if (!std::isfinite(r)) {
      flags |= masked & (kMxcsrOe | kMxcsrUe | kMxcsrPe);
      continue;
    }
    const uint32_t pe = inexact ? kMxcsrPe : 0;
    if (r > max && (unmasked & kMxcsrOe)) {
      flags |= kMxcsrOe | pe;
    } else if (r != 0 && r < min_normal && (unmasked & kMxcsrUe)) {
      flags |= kMxcsrUe | pe;
    } else {
      flags |= masked & (kMxcsrOe | kMxcsrUe | kMxcsrPe);
    }
  }
  return flags;
}

}  // namespace densevm::cpu
