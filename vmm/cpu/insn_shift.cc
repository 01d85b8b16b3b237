// Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR by 1, imm8 or CL, and SHLD/SHRD.
//
// Flags follow SDM Vol 2B "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD": the count
// is masked to 5 bits (6 for 64-bit operands) and a masked count of 0 changes no flag.
// Where the SDM leaves a flag undefined, the result is what an Intel Xeon produces
// (measured against the host): OF for any count is the count-1 rule applied to the
// original operands, except that ROL/ROR of a register by an immediate keep OF; AF is 0;
// RCL/RCR by a multiple of W+1 keep CF and OF; CF of SHL/SHR past the width is the last bit
// shifted out of a wide intermediate; 16-bit SHLD/SHRD counts above 16 shift through
// dest:src:dest. A masked count of 0 still writes the destination back: a 32-bit register
// is zero-extended and a read-only memory operand faults, as on hardware.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

enum class Kind : uint8_t { kShl, kShr, kSar, kRol, kRor, kRcl, kRcr };

struct Shifted {
  uint64_t res;
  uint64_t flag_mask;  // the flags this operation writes
  uint64_t flags;
};

[[nodiscard]] constexpr uint64_t bit(uint64_t v, unsigned n) { return (v >> n) & 1; }

// `count` is the masked count and is not 0; `a` is the destination, masked to size.
template <unsigned S, Kind K>
Shifted shift(uint64_t a, unsigned count, bool cf_in) {
  constexpr unsigned kW = S * 8;
  constexpr uint64_t kMask = size_mask(S);
  uint64_t res, cf, of;
  if constexpr (K == Kind::kShl) {
    // Counts up to 31 on 8- and 16-bit operands: the wide intermediate still fits.
    const uint64_t wide = a << (count - 1);
    cf = bit(wide, kW - 1);
    res = (wide << 1) & kMask;
    of = bit(a, kW - 1) ^ bit(a, kW - 2);
  } else if constexpr (K == Kind::kShr) {
    cf = bit(a, count - 1);
    res = a >> count;
    of = bit(a, kW - 1);
  } else if constexpr (K == Kind::kSar) {
    const int64_t sa = sign_extend(a, S);
    cf = static_cast<uint64_t>(sa >> (count - 1)) & 1;
    res = static_cast<uint64_t>(sa >> count) & kMask;
    of = 0;
  } else if constexpr (K == Kind::kRol || K == Kind::kRor) {
    const unsigned r = count & (kW - 1);
    res = a;
    if (r != 0) {
      res = K == Kind::kRol ? (a << r) | (a >> (kW - r)) : (a >> r) | (a << (kW - r));
      res &= kMask;
    }
    if constexpr (K == Kind::kRol) {
      cf = bit(res, 0);
      of = bit(a, kW - 1) ^ bit(a, kW - 2);
    } else {
      cf = bit(res, kW - 1);
      of = bit(a, kW - 1) ^ bit(a, 0);
    }
    return {res, kFlagCf | kFlagOf, cf | (of << 11)};
  } else {
    // RCL/RCR rotate the (W+1)-bit value CF:dest.
    using U128 = unsigned __int128;
    const unsigned r = count % (kW + 1);
    // A rotation by a multiple of W+1 leaves CF and, on Intel, OF as they were.
    if (r == 0) return {a, 0, 0};
    const U128 ring_mask = (U128{1} << (kW + 1)) - 1;
    U128 x = (U128{cf_in} << kW) | a;
    x = K == Kind::kRcl ? (x << r) | (x >> (kW + 1 - r)) : (x >> r) | (x << (kW + 1 - r));
    x &= ring_mask;
    res = static_cast<uint64_t>(x) & kMask;
    cf = static_cast<uint64_t>(x >> kW) & 1;
    of = K == Kind::kRcl ? bit(a, kW - 1) ^ bit(a, kW - 2) : bit(a, kW - 1) ^ cf_in;
    return {res, kFlagCf | kFlagOf, cf | (of << 11)};
  }
  return {res, kFlagsArith, result_flags(res, S) | cf | (of << 11)};
}

template <Kind K>
struct Shift {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      Operand<S, F> o;  // src: the immediate, or CL
      if (!o.load(v, d)) return Exec::kFault;
      const unsigned count = static_cast<unsigned>(o.src) & (S == 8 ? 63 : 31);
      if (count == 0) return o.store(v, d, o.dst) ? Exec::kNext : Exec::kFault;
      Shifted r = shift<S, K>(o.dst, count, v.flag(kFlagCf));
      // Intel keeps OF when ROL/ROR rotate a register by an immediate other than 1.
      if (F == Form::kRI && (K == Kind::kRol || K == Kind::kRor) && count != 1) {
        r.flag_mask &= ~kFlagOf;
      }
      if (!o.store(v, d, r.res)) return Exec::kFault;
      v.set_arith_flags(r.flag_mask, r.flags);
      return Exec::kNext;
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    Form f;
    if (!classify(c, f)) return false;
    // The count is an immediate (Zydis makes the implicit 1 one) or CL.
    if (f != Form::kRI && f != Form::kMI && f != Form::kRR && f != Form::kMR) return false;
    d.handler = by_form<Fn>(f, d.size);
    return true;
  }
};

// SHLD/SHRD: `a` the destination, `b` the register whose bits shift in.
template <unsigned S, bool kLeft>
Shifted double_shift(uint64_t a, uint64_t b, unsigned count) {
  constexpr unsigned kW = S * 8;
  uint64_t res, cf;
  if constexpr (S == 2) {
    // 16-bit counts above 16 are undefined; shift through a:b:a as P6 and later do.
    const uint64_t wide = (a << 32) | (b << 16) | a;
    res = (kLeft ? wide >> (32 - count) : wide >> count) & 0xffff;
    cf = kLeft ? bit(wide, 48 - count) : bit(wide, count - 1);
  } else if constexpr (kLeft) {
    res = ((a << count) | (b >> (kW - count))) & size_mask(S);
    cf = bit(a, kW - count);
  } else {
    res = ((a >> count) | (b << (kW - count))) & size_mask(S);
    cf = bit(a, count - 1);
  }
  const uint64_t of = bit(a, kW - 1) ^ (kLeft ? bit(a, kW - 2) : bit(b, 0));
  return {res, kFlagsArith, result_flags(res, S) | cf | (of << 11)};
}

// d.rm = the source register; d.aux = 1 when the count is CL.
template <bool kLeft>
struct DoubleShift {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      const unsigned count =
          static_cast<unsigned>(d.aux ? v.reg<1>(kRcx) : d.imm) & (S == 8 ? 63 : 31);
      uint64_t a, addr = 0;
      if constexpr (F == Form::kM) {
        addr = v.effective_address(d);
        if (!v.read<S>(addr, a)) return Exec::kFault;
      } else {
        a = v.reg<S>(d.reg);
      }
      Shifted r{a, 0, 0};
      if (count != 0) r = double_shift<S, kLeft>(a, v.reg<S>(d.rm), count);
      if constexpr (F == Form::kM) {
        if (!v.write<S>(addr, r.res)) return Exec::kFault;
      } else {
        v.set_reg<S>(d.reg, r.res);
      }
      if (count != 0) v.set_arith_flags(r.flag_mask, r.flags);
      return Exec::kNext;
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    if (c.kind[1] != OpKind::kReg || (c.kind[2] != OpKind::kReg && c.kind[2] != OpKind::kImm)) {
      return false;
    }
    if (d.size < 2) return false;
    // The decoder's reg/rm slots hold the first two registers it saw; take the source
    // register from Zydis directly (it may be the second or third register seen).
    const ZydisRegister src =
        ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, c.ops[1].reg.value);
    d.rm = static_cast<uint8_t>(src - ZYDIS_REGISTER_RAX);
    d.aux = c.kind[2] == OpKind::kReg ? 1 : 0;
    if (c.kind[0] == OpKind::kMem) d.handler = sized<Fn, Form::kM>(d.size);
    else if (c.kind[0] == OpKind::kReg) d.handler = sized<Fn, Form::kR>(d.size);
    return true;
  }
};

}  // namespace

void register_shifts() {
  register_builder(ZYDIS_MNEMONIC_SHL, &Shift<Kind::kShl>::build);
  register_builder(ZYDIS_MNEMONIC_SHR, &Shift<Kind::kShr>::build);
  register_builder(ZYDIS_MNEMONIC_SAR, &Shift<Kind::kSar>::build);
  register_builder(ZYDIS_MNEMONIC_ROL, &Shift<Kind::kRol>::build);
  register_builder(ZYDIS_MNEMONIC_ROR, &Shift<Kind::kRor>::build);
  register_builder(ZYDIS_MNEMONIC_RCL, &Shift<Kind::kRcl>::build);
  register_builder(ZYDIS_MNEMONIC_RCR, &Shift<Kind::kRcr>::build);
  register_builder(ZYDIS_MNEMONIC_SHLD, &DoubleShift<true>::build);
  register_builder(ZYDIS_MNEMONIC_SHRD, &DoubleShift<false>::build);
}

}  // namespace densevm::cpu
