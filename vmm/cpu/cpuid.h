// The fixed virtual CPU that CPUID describes: the same answer on every host, so a guest
// (and a replay of it) never sees which machine runs it.
//
// A feature bit is set only for what the interpreter implements. Table (leaf: register
// fields; everything not listed reads 0, and so does every leaf not listed):
//
//   0          EAX max basic leaf 0x16; EBX:EDX:ECX vendor "GenuineIntel" (Linux reads the
//              TSC frequency from leaf 0x15 on Intel parts only)
//   1          EAX 0x00000601 (family 6, model 0, stepping 1); EBX CLFLUSH size 8 (x8 bytes),
//              APIC ID 0
//              ECX POPCNT(23) TSC-DEADLINE(24) HYPERVISOR(31)
//              EDX FPU(0) DE(2) PSE(3) TSC(4) MSR(5) PAE(6) APIC(9) MTRR(12) PGE(13) CMOV(15)
//                  PAT(16) FXSR(24) SSE(25) SSE2(26)
//   6          EAX ARAT(2): the APIC timer does not stop in deep C-states
//   7.0        EBX FCS/FDS deprecated(13): FXSAVE and FNSTENV store them as 0. Nothing
//              else: no BMI1 (it would also promise ANDN, BEXTR, BLS*), no SMEP/SMAP
//   15         EAX 1, EBX 1 (TSC = crystal), ECX crystal Hz = kVirtualHz (10^9)
//   16         EAX/EBX/ECX base/max/bus MHz = 1000
//   40000000   EAX 0x40000010; EBX:ECX:EDX "DenseVMvirt\0" (no hypervisor Linux knows)
//   40000010   EAX TSC kHz, EBX APIC bus kHz (10^6 each)
//   80000000   EAX max extended leaf 0x80000008
//   80000001   ECX LAHF-SAHF(0) ABM/LZCNT(5)
//              EDX SYSCALL(11) NX(20) Page1GB(26) LM(29)
//   80000002-4 brand string "DenseVM virtual x86-64 CPU"
//   80000007   EDX invariant TSC(8)
//   80000008   EAX physical address bits (kGuestMaxPhysAddrBits) | 48 linear bits << 8
//
// DE promises CR4.DE (DR4/DR5 are #UD with it); the debug registers are stored, no
// breakpoint fires (insn_debug.cc). Instructions of features not advertised raise #UD
// (insn_absent.cc). Not advertised, because not implemented: MMX (and the SSE forms on MMX
// registers), SSE3 and later, XSAVE and AVX (so glibc picks its SSE2 paths), CX8/CX16
// (CMPXCHG8B/16B), CLFSH (CLFLUSH executes, line size unknown), SEP (SYSENTER), RDTSCP,
// MCE/MCA. PGE is honoured by flushing more than it requires: global entries do not
// survive a CR3 load in the soft TLB (always correct: a TLB may drop any entry), and a CR4
// write flushes everything. MTRR and PAT are their MSRs only (memory types are not
// modelled). The bits for POPCNT and LZCNT follow insn_bit.cc.
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

// CR4 bits a guest may set: those whose features CPUID advertises (TSD for TSC, DE, PSE,
// PAE, PGE, OSFXSR and OSXMMEXCPT for FXSR and SSE).
inline constexpr uint64_t kCr4Tsd = 1u << 2;
inline constexpr uint64_t kCr4Pse = 1u << 4;
inline constexpr uint64_t kCr4Osfxsr = 1u << 9;      // SSE instructions and FXSAVE's XMM part
inline constexpr uint64_t kCr4Osxmmexcpt = 1u << 10;  // SIMD FP errors are #XM, not #UD
inline constexpr uint64_t kCr4Allowed =
    kCr4Tsd | kCr4De | kCr4Pse | kCr4Pae | kCr4Pge | kCr4Osfxsr | kCr4Osxmmexcpt;

// The rate of the TSC and the local APIC bus: one tick per unit of virtual time.
inline constexpr uint64_t kVirtualHz = 1'000'000'000;

}  // namespace densevm::cpu
