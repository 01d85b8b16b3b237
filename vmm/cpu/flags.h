// Lazy arithmetic flags: the interpreter records the last flag-setting operation and its
// operands, and computes CF/PF/AF/ZF/SF/OF only when something reads them.
//
// Most flag results are never read (the next ALU op overwrites them), so this keeps ALU
// handlers short. Conditions after CMP/SUB and logic ops are evaluated without building
// RFLAGS at all.
//
//   LazyFlags f;
//   f.set(FlagOp::kSub, 4, a, b, a - b);
//   bool below = f.condition(kCondB, rflags);
#pragma once

#include <cstdint>

#include "vmm/cpu/cpu_state.h"

namespace densevm::cpu {

enum class FlagOp : uint8_t { kNone, kAdd, kAdc, kSub, kSbb, kLogic, kInc, kDec };

// Condition codes in encoding order (the low nibble of Jcc/SETcc/CMOVcc).
enum Cond : uint8_t {
  kCondO, kCondNo, kCondB, kCondNb, kCondZ, kCondNz, kCondBe, kCondNbe,
  kCondS, kCondNs, kCondP, kCondNp, kCondL, kCondNl, kCondLe, kCondNle,
};

inline constexpr uint64_t size_mask(unsigned size) {
  return size == 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1;
}
inline constexpr uint64_t sign_bit(unsigned size) { return uint64_t{1} << (size * 8 - 1); }
inline constexpr int64_t sign_extend(uint64_t v, unsigned size) {
  const unsigned shift = 64 - size * 8;
  return static_cast<int64_t>(v << shift) >> shift;
}

struct LazyFlags {
  FlagOp op = FlagOp::kNone;
  uint8_t size = 8;
  bool carry_in = false;  // ADC/SBB carry, or the CF that INC/DEC preserve
  uint64_t a = 0, b = 0, res = 0;  // operands and result, already masked to size

  void set(FlagOp o, unsigned sz, uint64_t x, uint64_t y, uint64_t r) {
    op = o;
    size = static_cast<uint8_t>(sz);
    a = x;
    b = y;
    res = r;
  }

  // Arithmetic flag bits of the recorded operation.
  [[nodiscard]] uint64_t compute() const {
    const uint64_t sign = sign_bit(size);
    uint64_t f = 0;
    if (res == 0) f |= kFlagZf;
    if (res & sign) f |= kFlagSf;
    if (!__builtin_parityll(res & 0xff)) f |= kFlagPf;
    switch (op) {
      case FlagOp::kNone:
        return 0;
      case FlagOp::kAdd:
      case FlagOp::kAdc: {
        const bool cf = op == FlagOp::kAdc && carry_in ? res <= a : res < a;
        if (cf) f |= kFlagCf;
        if ((a ^ res) & (b ^ res) & sign) f |= kFlagOf;
        if ((a ^ b ^ res) & 0x10) f |= kFlagAf;
        return f;
      }
      case FlagOp::kSub:
      case FlagOp::kSbb: {
        const bool cf = op == FlagOp::kSbb && carry_in ? a <= b : a < b;
        if (cf) f |= kFlagCf;
        if ((a ^ b) & (a ^ res) & sign) f |= kFlagOf;
        if ((a ^ b ^ res) & 0x10) f |= kFlagAf;
        return f;
      }
      case FlagOp::kLogic:
        return f;
      case FlagOp::kInc:
        if (carry_in) f |= kFlagCf;
        if (res == sign) f |= kFlagOf;
        if ((a ^ res) & 0x10) f |= kFlagAf;
        return f;
      case FlagOp::kDec:
        if (carry_in) f |= kFlagCf;
        if (a == sign) f |= kFlagOf;
        if ((a ^ res) & 0x10) f |= kFlagAf;
        return f;
    }
    return f;
  }

  // Evaluates a condition; `rflags` supplies the bits when no operation is pending.
  [[nodiscard]] bool condition(unsigned cc, uint64_t rflags) const {
    if (op == FlagOp::kSub) {
      const bool neg = cc & 1;
      bool r;
      switch (cc >> 1) {
        case kCondB >> 1: r = a < b; break;
        case kCondZ >> 1: r = res == 0; break;
        case kCondBe >> 1: r = a <= b; break;
        case kCondS >> 1: r = (res & sign_bit(size)) != 0; break;
        case kCondL >> 1: r = sign_extend(a, size) < sign_extend(b, size); break;
        case kCondLe >> 1: r = sign_extend(a, size) <= sign_extend(b, size); break;
        default: return condition_from(cc, compute());
      }
      return r != neg;
    }
    if (op == FlagOp::kNone) return condition_from(cc, rflags);
    return condition_from(cc, compute());
  }

  [[nodiscard]] static bool condition_from(unsigned cc, uint64_t f) {
    const bool cf = f & kFlagCf, zf = f & kFlagZf, sf = f & kFlagSf, of = f & kFlagOf,
               pf = f & kFlagPf;
    bool r = false;
    switch (cc >> 1) {
      case 0: r = of; break;
      case 1: r = cf; break;
      case 2: r = zf; break;
      case 3: r = cf || zf; break;
      case 4: r = sf; break;
      case 5: r = pf; break;
      case 6: r = sf != of; break;
      case 7: r = zf || (sf != of); break;
    }
    return r != static_cast<bool>(cc & 1);
  }
};

}  // namespace densevm::cpu
