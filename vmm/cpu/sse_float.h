// SSE floating point on the host: a guest instruction runs as the same host instruction
// under the guest's rounding control, DAZ and FTZ, with every host exception masked, and
// the flags it raised decide the guest's outcome by the SIMD floating-point exception rules
// (SDM Vol 1 §11.5.3).
//
// A masked run gives the right result and flags whenever the guest has OE and UE masked.
// When either is unmasked, the flags depend on the result rounded with unbounded exponent
// (SDM Vol 1 §4.9.1.4-5: an unmasked underflow is any tiny result, exact or not, and PE
// then says whether that rounding was inexact), which unbounded_flags() gets from the
// host's x87 at the operation's precision. The host's own MXCSR is put back after each run.
//
//   uint32_t csr = host_mxcsr(guest_mxcsr);
//   __m128i r = Addps::run(a, b, csr);              // csr now holds the raised flags
//   if (!commit_simd_flags(v, csr & kMxcsrFlags)) return Exec::kFault;
#pragma once

#include <cstdint>

#include "vmm/cpu/sse.h"

namespace densevm::cpu {

// The host MXCSR for a guest operation: the guest's RC, DAZ and FTZ, all exceptions masked,
// no flags. FTZ acts only while underflow is masked (SDM Vol 1 §10.2.3.3).
[[nodiscard]] inline uint32_t host_mxcsr(uint32_t guest) {
  uint32_t m = (guest & (kMxcsrRc | kMxcsrDaz | kMxcsrFtz)) | kMxcsrMasks;
  if (!(guest & (kMxcsrUe << kMxcsrMaskShift))) m &= ~kMxcsrFtz;
  return m;
}

// Runs host instruction `insn`, whose operands are %[x] (the destination, dst_) and %[y]
// (src_), under csr_ (in: host_mxcsr(); out: the same with the raised flags), then puts the
// host's MXCSR back. One asm statement: nothing the compiler emits runs under the guest's.
#define DENSEVM_HOST_SSE(insn, dst_, src_, csr_)                                          \
  do {                                                                                     \
    uint32_t densevm_host_csr_;                                                            \
    asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn "\n\tstmxcsr %[c]\n\tldmxcsr %[h]" \
                 : [x] "+x"(dst_), [c] "+m"(csr_), [h] "=m"(densevm_host_csr_)             \
                 : [y] "x"(src_));                                                         \
  } while (0)

// Sets the MXCSR flags of an operation whose masked run raised `flags` and decides whether
// it completes (SDM Vol 1 §11.5.3.2-3): an unmasked pre-computation exception (IE DE ZE)
// sets only the pre-computation flags; otherwise all flags are set, and any unmasked one
// stops the instruction. A stop raises #XM, or #UD when CR4.OSXMMEXCPT is clear; the
// destination is then left alone. False: stopped.
[[nodiscard]] bool commit_simd_flags(Vcpu& v, uint32_t flags);

// Arithmetic whose flags depend on the unbounded result when OE or UE is unmasked.
enum class ArithOp : uint8_t { kNone, kAdd, kSub, kMul, kDiv, kNarrow /* double to single */ };

// The operation on lane 0 only (ADDSS for ADDPS, ...), flags in csr as for DENSEVM_HOST_SSE.
using LaneKernel = __m128i (*)(__m128i a, __m128i b, uint32_t& csr);

// True when the guest's masks make the flags of a masked run with `flags` incomplete: OE or
// UE is unmasked and no unmasked pre-computation exception ends the instruction first.
[[nodiscard]] inline bool needs_unbounded_flags(uint32_t mxcsr, uint32_t flags) {
  const uint32_t unmasked = ~(mxcsr >> kMxcsrMaskShift) & kMxcsrFlags;
  return (unmasked & (kMxcsrOe | kMxcsrUe)) && !(flags & kMxcsrPreComputation & unmasked);
}

// The flags of `op` over `lanes` lanes of a and b (singles when `single`; kNarrow reads
// doubles from b), lane by lane: the masked run's flags, except that a lane overflowing with
// OE unmasked, or tiny with UE unmasked, flags OE or UE, and PE only when the rounding with
// unbounded exponent was inexact.
[[nodiscard]] uint32_t unbounded_flags(ArithOp op, bool single, unsigned lanes, LaneKernel lane,
                                       const Xmm& a, const Xmm& b, uint32_t mxcsr);

}  // namespace densevm::cpu
