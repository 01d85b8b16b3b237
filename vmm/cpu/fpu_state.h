// FpuState: the vCPU's x87, MXCSR and XMM registers, kept in the layout FXSAVE writes.
//
// It is bytes 0..415 of the 64-bit FXSAVE image (SDM Vol 1 §10.5.1, Table 10-2, REX.W
// form), so FXSAVE and FXRSTOR are copies, and an x87 instruction runs on the host's x87
// loaded from this very image (x87_host.h). ST(0)..ST(7) are in stack order, the tag word is
// FXSAVE's abridged form (bit i set: physical register i holds a value).
//
//   FpuState f;                  // FNINIT's x87 state, MXCSR 0x1F80, XMM zero
//   f.xmm[0] = Xmm{1, 2};
//   unsigned rc = (f.mxcsr & kMxcsrRc) >> 13;
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace densevm::cpu {

struct alignas(16) Xmm {
  uint64_t lo = 0, hi = 0;
  bool operator==(const Xmm&) const = default;

  // Lane i of type T (uint8_t .. uint64_t, float, double), little-endian as in the register.
  template <class T>
  [[nodiscard]] T lane(unsigned i) const {
    T v;
    std::memcpy(&v, reinterpret_cast<const uint8_t*>(this) + i * sizeof(T), sizeof(T));
    return v;
  }
  template <class T>
  void set_lane(unsigned i, T v) {
    std::memcpy(reinterpret_cast<uint8_t*>(this) + i * sizeof(T), &v, sizeof(T));
  }
};

// MXCSR (SDM Vol 1 §10.2.3): six sticky flags, DAZ, their six masks, rounding control, FTZ.
inline constexpr uint32_t kMxcsrIe = 1u << 0, kMxcsrDe = 1u << 1, kMxcsrZe = 1u << 2,
                          kMxcsrOe = 1u << 3, kMxcsrUe = 1u << 4, kMxcsrPe = 1u << 5;
inline constexpr uint32_t kMxcsrFlags = 0x3f;
inline constexpr uint32_t kMxcsrPreComputation = kMxcsrIe | kMxcsrDe | kMxcsrZe;
inline constexpr uint32_t kMxcsrDaz = 1u << 6;
inline constexpr unsigned kMxcsrMaskShift = 7;  // mask of flag f is f << 7
inline constexpr uint32_t kMxcsrMasks = kMxcsrFlags << kMxcsrMaskShift;
inline constexpr uint32_t kMxcsrRc = 3u << 13;
inline constexpr uint32_t kMxcsrFtz = 1u << 15;
inline constexpr uint32_t kMxcsrReset = kMxcsrMasks;  // 0x1F80
// The bits LDMXCSR and FXRSTOR accept (FXSAVE's MXCSR_MASK): every bit of 15:0, DAZ included.
inline constexpr uint32_t kMxcsrWritable = 0xffff;

// x87 status word (SDM Vol 1 §8.1.3): exception flags as in MXCSR, then these.
inline constexpr uint16_t kFswSf = 1u << 6, kFswEs = 1u << 7, kFswC0 = 1u << 8,
                          kFswC1 = 1u << 9, kFswC2 = 1u << 10, kFswC3 = 1u << 14,
                          kFswB = 1u << 15;
inline constexpr uint16_t kFswTop = 7u << 11;
inline constexpr uint16_t kFswConditions = kFswC0 | kFswC1 | kFswC2 | kFswC3;
// x87 control word (SDM Vol 1 §8.1.5): bits 5:0 mask the exceptions, PC 9:8, RC 11:10,
// X 12; bit 6 reads as 1, the others as 0.
inline constexpr uint16_t kFcwWritable = 0x1f3f;
inline constexpr uint16_t kFcwFixed1 = 0x0040;
inline constexpr uint16_t kFcwInit = 0x037f;  // FNINIT: all masked, 64-bit precision, nearest

// The CR0 bits that decide how x87 and SSE instructions run (SDM Vol 3A §2.5, §13.1); a
// namespace of their own, so that no file's local CR0 constants collide with them.
namespace cr0 {
inline constexpr uint64_t kMp = 1u << 1;  // FWAIT honours TS
inline constexpr uint64_t kEm = 1u << 2;  // no x87: x87 #NM, SSE #UD
inline constexpr uint64_t kTs = 1u << 3;  // task switched: #NM on first use
inline constexpr uint64_t kNe = 1u << 5;  // x87 errors are #MF (else ignored here, see x87)
}  // namespace cr0

inline constexpr uint8_t kVecNm = 7, kVecMf = 16, kVecXm = 19;

struct alignas(16) FpuState {
  uint16_t fcw = kFcwInit;
  uint16_t fsw = 0;
  uint8_t ftw = 0;             // abridged tag word: all registers empty
  uint8_t reserved5 = 0;
  uint16_t fop = 0;            // last non-control x87 instruction's opcode, 11 bits
  uint64_t fip = 0;            // its RIP
  uint64_t fdp = 0;            // its memory operand's address
  uint32_t mxcsr = kMxcsrReset;
  uint32_t mxcsr_mask = kMxcsrWritable;
  uint8_t st[8][16] = {};      // ST(i): 80-bit value in bytes 0..9, bytes 10..15 zero
  Xmm xmm[16];

  bool operator==(const FpuState&) const = default;

  // Its part of the vCPU's checkpoint record (core/persist.h, FORMAT.md): each ST(i) is its
  // 10 bytes, which is the u64 significand and u16 sign and exponent little-endian.
  static void fields(auto& s, auto& io) {
    io(s.fcw, s.fsw, s.ftw, s.fop, s.fip, s.fdp, s.mxcsr);
    for (auto& st : s.st) {
      for (size_t b = 0; b < 10; ++b) io(st[b]);
    }
    for (auto& x : s.xmm) io(x.lo, x.hi);
  }
};

inline constexpr size_t kFxsaveImageBytes = 416;  // FXSAVE writes bytes 0..415 of 512
static_assert(offsetof(FpuState, fop) == 6 && offsetof(FpuState, fip) == 8);
static_assert(offsetof(FpuState, mxcsr) == 24 && offsetof(FpuState, st) == 32);
static_assert(offsetof(FpuState, xmm) == 160 && sizeof(FpuState) == kFxsaveImageBytes);

}  // namespace densevm::cpu
