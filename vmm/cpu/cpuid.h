// The fixed virtual CPU that CPUID describes: the same answer on every host, so a guest
// (and a replay of it) never sees which machine runs it.
//
// A feature bit is set only for what the interpreter implements. Table (leaf: register
// fields; everything not listed reads 0, and so does every leaf not listed):
//
//   0          EAX max basic leaf 7; EBX:EDX:ECX vendor "DenseVM vCPU"
//   1          EAX 0x00000601 (family 6, model 0, stepping 1); EBX 0 (APIC ID 0)
//              ECX POPCNT(23)
//              EDX FPU(0) PSE(3) TSC(4) MSR(5) PAE(6) APIC(9) CMOV(15) FXSR(24) SSE(25)
//                  SSE2(26)
//   7.0        EBX FCS/FDS deprecated(13): FXSAVE and FNSTENV store them as 0. Nothing
//              else: no BMI1 (it would also promise ANDN, BEXTR, BLS*), no SMEP/SMAP
//   80000000   EAX max extended leaf 0x80000008
//   80000001   ECX LAHF-SAHF(0) ABM/LZCNT(5)
//              EDX SYSCALL(11) NX(20) Page1GB(26) LM(29)
//   80000002-4 brand string "DenseVM virtual x86-64 CPU"
//   80000008   EAX physical address bits (kGuestMaxPhysAddrBits) | 48 linear bits << 8
//
// Not advertised, because not implemented: MMX (and the SSE forms on MMX registers),
// SSE3 and later, XSAVE and AVX (so glibc picks its SSE2 paths), CX8/CX16 (CMPXCHG8B/16B),
// PGE (global pages are treated as ordinary ones), SEP (SYSENTER), RDTSCP, PAT, MTRR,
// MCE/MCA, the hypervisor bit. The bits for POPCNT and LZCNT follow insn_bit.cc.
//
//   CpuidResult r = cpuid(0x80000001, 0);
//   bool long_mode = r.edx & (1u << 29);
#pragma once

#include <cstdint>

#include "vmm/cpu/cpu_state.h"

namespace densevm::cpu {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

[[nodiscard]] CpuidResult cpuid(uint32_t leaf, uint32_t subleaf);

// CR4 bits a guest may set: those whose features CPUID advertises (TSD for TSC, PSE, PAE,
// OSFXSR and OSXMMEXCPT for FXSR and SSE).
inline constexpr uint64_t kCr4Tsd = 1u << 2;
inline constexpr uint64_t kCr4Pse = 1u << 4;
inline constexpr uint64_t kCr4Osfxsr = 1u << 9;      // SSE instructions and FXSAVE's XMM part
inline constexpr uint64_t kCr4Osxmmexcpt = 1u << 10;  // SIMD FP errors are #XM, not #UD
inline constexpr uint64_t kCr4Allowed = kCr4Tsd | kCr4Pse | kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;

}  // namespace densevm::cpu
