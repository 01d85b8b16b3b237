// Architectural state of one x86-64 vCPU: registers, control registers, segments, MSRs and
// the x87/SSE registers.
//
// Plain data, so checkpoints can copy it. RFLAGS is kept partly lazy by the interpreter
// (see flags.h); read it through Vcpu::rflags(), not from here.
//
//   CpuState s;
//   s.gpr[kRax] = 42;
//   s.cr0 |= kCr0Pg;
#pragma once

#include <cstdint>

#include "vmm/cpu/fpu_state.h"

namespace densevm::cpu {

// General-purpose registers in x86 encoding order; 16..19 name AH, CH, DH, BH.
enum GprIndex : uint8_t {
  kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi,
  kR8, kR9, kR10, kR11, kR12, kR13, kR14, kR15,
  kAh = 16, kCh, kDh, kBh,
};

// RFLAGS bits (SDM Vol 1 §3.4.3).
inline constexpr uint64_t kFlagCf = 1u << 0;
inline constexpr uint64_t kFlagFixed1 = 1u << 1;  // always reads 1
inline constexpr uint64_t kFlagPf = 1u << 2;
inline constexpr uint64_t kFlagAf = 1u << 4;
inline constexpr uint64_t kFlagZf = 1u << 6;
inline constexpr uint64_t kFlagSf = 1u << 7;
inline constexpr uint64_t kFlagTf = 1u << 8;
inline constexpr uint64_t kFlagIf = 1u << 9;
inline constexpr uint64_t kFlagDf = 1u << 10;
inline constexpr uint64_t kFlagOf = 1u << 11;
inline constexpr uint64_t kFlagIopl = 3u << 12;
inline constexpr uint64_t kFlagNt = 1u << 14;
inline constexpr uint64_t kFlagRf = 1u << 16;
inline constexpr uint64_t kFlagAc = 1u << 18;
inline constexpr uint64_t kFlagId = 1u << 21;
inline constexpr uint64_t kFlagsArith = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;
// Bits POPF/IRET may change at all (ID, AC, NT, IOPL, DF, IF, TF, arithmetic).
inline constexpr uint64_t kFlagsWritable =
    kFlagsArith | kFlagTf | kFlagIf | kFlagDf | kFlagIopl | kFlagNt | kFlagAc | kFlagId | kFlagRf;

inline constexpr uint64_t kCr0Pe = 1u << 0;
inline constexpr uint64_t kCr0Ts = 1u << 3;
inline constexpr uint64_t kCr0Wp = 1u << 16;
inline constexpr uint64_t kCr0Pg = 1u << 31;
inline constexpr uint64_t kCr4De = 1u << 3;
inline constexpr uint64_t kCr4Pae = 1u << 5;
inline constexpr uint64_t kCr4Pge = 1u << 7;
inline constexpr uint64_t kEferSce = 1u << 0;
inline constexpr uint64_t kEferLme = 1u << 8;
inline constexpr uint64_t kEferLma = 1u << 10;
inline constexpr uint64_t kEferNxe = 1u << 11;

// MSR numbers the vCPU implements (SDM Vol 4).
inline constexpr uint32_t kMsrTsc = 0x10;
inline constexpr uint32_t kMsrApicBase = 0x1b;
inline constexpr uint32_t kMsrBiosSignId = 0x8b;      // microcode revision
inline constexpr uint32_t kMsrPlatformInfo = 0xce;
inline constexpr uint32_t kMsrMtrrCap = 0xfe;
inline constexpr uint32_t kMsrMiscEnable = 0x1a0;
inline constexpr uint32_t kMsrPat = 0x277;
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;
inline constexpr uint32_t kMsrTscDeadline = 0x6e0;   // the local APIC's (Vcpu::MsrDevice)
inline constexpr uint32_t kMsrEfer = 0xc0000080;
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrFmask = 0xc0000084;
inline constexpr uint32_t kMsrFsBase = 0xc0000100;
inline constexpr uint32_t kMsrGsBase = 0xc0000101;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

// Exception vectors (SDM Vol 3A §6.3.1).
inline constexpr uint8_t kVecDe = 0, kVecDb = 1, kVecBp = 3, kVecUd = 6, kVecDf = 8,
                         kVecTs = 10, kVecNp = 11, kVecSs = 12, kVecGp = 13, kVecPf = 14;

// Debug registers at reset (SDM Vol 3B §18.2.3, §18.2.4): DR6 reads 1 in bits 4-11 and
// 16-31, DR7 in bit 10.
inline constexpr uint64_t kDr6Reset = 0xffff0ff0;
inline constexpr uint64_t kDr7Reset = 0x400;

// Bits 63:47 all equal (SDM Vol 1 §3.3.7.1); anything else faults when used as an address.
[[nodiscard]] inline constexpr bool is_canonical(uint64_t va) {
  return static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) == va;
}

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;
};

struct CpuState {
  uint64_t gpr[16] = {};
  uint64_t rip = 0;
  uint64_t rflags = kFlagFixed1;  // authoritative only after Vcpu::sync_flags()

  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, efer = 0;
  uint8_t cpl = 0;
  uint16_t cs = 0, ss = 0, ds = 0, es = 0, fs = 0, gs = 0, tr = 0;
  uint64_t fs_base = 0, gs_base = 0, kernel_gs_base = 0;
  uint64_t tss_base = 0;  // from the TSS descriptor LTR loaded
  uint32_t tss_limit = 0;  // its limit in bytes (the I/O permission bitmap must fit below)
  uint16_t ldtr = 0;       // LLDT: selector, and base and limit of the LDT it names
  uint64_t ldt_base = 0;
  uint32_t ldt_limit = 0;
  uint64_t dr[4] = {};     // DR0-DR3: breakpoint addresses (stored; breakpoints never fire)
  uint64_t dr6 = kDr6Reset, dr7 = kDr7Reset;
  DescriptorTable gdtr, idtr;
  uint64_t star = 0, lstar = 0, cstar = 0, fmask = 0;
  uint64_t apic_base = 0xfee00900;  // BSP, xAPIC enabled, base 0xfee00000
  int64_t tsc_offset = 0;           // TSC = retired instructions + tsc_offset
  uint64_t pat = 0x0007040600070406;  // IA32_PAT at reset: WB WT UC- UC, twice
  uint64_t mtrr_def_type = 0;         // IA32_MTRR_DEF_TYPE: MTRRs off, default UC
  uint64_t misc_enable = 1;           // IA32_MISC_ENABLE: fast strings (and fixed bits)
  FpuState fpu;                     // x87, MXCSR, XMM0-15 (last: the hot fields stay put)
};

}  // namespace densevm::cpu
