// DiffCase: one instruction sequence with its inputs, as run natively and in FlatVm.
//
// Both sides map the code region and the data region at the same fixed addresses, fill the
// data region from the same template, apply the case's patches, load the registers and run
// the code up to its end (where the native side jumps back into its trampoline).
//
//   DiffCase c{.label = "add r64, r64", .code = bytes};
//   c.in.gpr[kRax] = 1;
//   c.in.rflags = kRflagsFixed | kFlagCf;
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace densevm::diff {

inline constexpr uint64_t kDataBase = 0x10000000;
inline constexpr uint64_t kDataSize = 0x10000;
inline constexpr uint64_t kCodeBase = 0x20000000;
inline constexpr uint64_t kCodeSize = 0x10000;
inline constexpr uint64_t kStackTop = kDataBase + 0xF000;  // the snippet's own stack

enum Gpr : unsigned { kRax, kRcx, kRdx, kRbx, kRsp, kRbp, kRsi, kRdi, kR8, kR9, kR10, kR11,
                      kR12, kR13, kR14, kR15, kGprCount };

inline constexpr uint64_t kFlagCf = 1u << 0, kFlagPf = 1u << 2, kFlagAf = 1u << 4,
                          kFlagZf = 1u << 6, kFlagSf = 1u << 7, kFlagIf = 1u << 9,
                          kFlagDf = 1u << 10, kFlagOf = 1u << 11;
inline constexpr uint64_t kRflagsFixed = 0x2 | kFlagIf;  // bit 1 reads as one; IF=1 at CPL 3
// The flags the differential tests compare (status flags and DF).
inline constexpr uint64_t kComparedFlags =
    kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;

// An FXSAVE image (SDM Vol 1 Table 10-2, 64-bit form): x87, MXCSR, XMM0-15.
using FxImage = std::array<uint8_t, 512>;
inline constexpr size_t kFxFcw = 0, kFxFsw = 2, kFxFtw = 4, kFxMxcsr = 24, kFxSt = 32,
                        kFxXmm = 160;
// What FNINIT and a fresh process leave: FCW 0x037F, all registers empty, MXCSR 0x1F80.
[[nodiscard]] FxImage initial_fx_image();

// Layout shared with native_trampoline.S: gpr[i] at 8*i, rflags at 128, the FXSAVE image
// at 144 (loaded by FXRSTOR before the snippet, saved by FXSAVE after it).
struct alignas(16) CpuRegs {
  std::array<uint64_t, kGprCount> gpr{};
  uint64_t rflags = kRflagsFixed;
  alignas(16) FxImage fx = initial_fx_image();
};
static_assert(sizeof(CpuRegs) == 656);

struct DataPatch {
  uint32_t offset = 0;  // from kDataBase
  std::vector<uint8_t> bytes;
};

struct DiffCase {
  std::string label;            // instruction and form, e.g. "adc m16, imm8"; groups failures
  std::vector<uint8_t> code;    // the snippet, without the native exit jump
  CpuRegs in;
  std::vector<DataPatch> data;  // written over the data template
  uint64_t undefined_flags = 0; // undefined beyond what Zydis reports (count-dependent cases)
  uint64_t defined_flags = 0;   // defined although Zydis says undefined (count 0 or 1 shifts)
  uint16_t undefined_gprs = 0;  // bit i: gpr i is architecturally undefined afterwards
  // Data bytes a case declares undefined afterwards (offsets from kDataBase): what an
  // instruction may write differently on each implementation (FXSAVE's MXCSR_MASK, ...).
  std::vector<std::pair<uint32_t, uint32_t>> undefined_data;  // (offset, length)
};

// Deterministic initial contents of the data region (before a case's patches).
void fill_data_template(std::span<uint8_t, kDataSize> data);
// Template plus the case's patches.
void initial_data(const DiffCase& c, std::span<uint8_t, kDataSize> data);

}  // namespace densevm::diff
