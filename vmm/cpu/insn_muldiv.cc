// Multiplication and division: MUL, IMUL (one, two and three operands), DIV, IDIV.
//
// SDM Vol 2A/2B "MUL", "IMUL", "DIV", "IDIV". One-operand forms use the accumulator pair
// (AX, DX:AX, EDX:EAX, RDX:RAX; AH:AL for bytes). CF = OF say whether the product needed
// the high half; SF ZF AF PF are undefined and are set as a current Intel core (a Xeon)
// sets them. Division by zero and a quotient that does not fit raise #DE before any
// register changes. DIV/IDIV leave the (undefined) flags unchanged.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

using U128 = unsigned __int128;
using I128 = __int128;

// Flags after a multiplication: CF = OF = overflow; as on Intel, SF and PF from the low
// half, ZF and AF clear.
uint64_t mul_flags(uint64_t low, unsigned size, bool overflow) {
  return (result_flags(low, size) & ~kFlagZf) | (overflow ? kFlagCf | kFlagOf : 0);
}

template <unsigned S, bool kMem>
bool load_source(Vcpu& v, const DecodedInsn& d, uint64_t& out) {
  if constexpr (kMem) return v.read<S>(v.effective_address(d), out);
  out = v.reg<S>(d.reg);
  return true;
}

// Writes the double-width accumulator pair: AX for bytes, else rDX:rAX.
template <unsigned S>
void set_pair(Vcpu& v, uint64_t low, uint64_t high) {
  if constexpr (S == 1) {
    v.set_reg<2>(kRax, (high << 8) | low);
  } else {
    v.set_reg<S>(kRax, low);
    v.set_reg<S>(kRdx, high);
  }
}

template <unsigned S>
U128 get_pair(Vcpu& v) {
  if constexpr (S == 1) return v.reg<2>(kRax);
  return (U128{v.reg<S>(kRdx)} << (S * 8)) | v.reg<S>(kRax);
}

// One-operand MUL/IMUL.
template <unsigned S, bool kMem, bool kSigned>
Exec mul1(Vcpu& v, const DecodedInsn& d) {
  uint64_t src;
  if (!load_source<S, kMem>(v, d, src)) return Exec::kFault;
  const uint64_t a = v.reg<S>(kRax);
  U128 product;
  bool overflow;
  if constexpr (kSigned) {
    const I128 p = I128{sign_extend(a, S)} * I128{sign_extend(src, S)};
    product = static_cast<U128>(p);
    overflow = p != I128{sign_extend(static_cast<uint64_t>(product) & size_mask(S), S)};
  } else {
    product = U128{a} * U128{src};
    overflow = (product >> (S * 8)) != 0;
  }
  const uint64_t low = static_cast<uint64_t>(product) & size_mask(S);
  set_pair<S>(v, low, static_cast<uint64_t>(product >> (S * 8)) & size_mask(S));
  v.set_arith_flags(kFlagsArith, mul_flags(low, S, overflow));
  return Exec::kNext;
}

// IMUL r, r/m and IMUL r, r/m, imm: the truncated signed product into the register.
template <unsigned S, bool kMem, bool kImm>
Exec imul(Vcpu& v, const DecodedInsn& d) {
  uint64_t b;
  if constexpr (kMem) {
    if (!v.read<S>(v.effective_address(d), b)) return Exec::kFault;
  } else {
    b = v.reg<S>(d.rm);
  }
  const uint64_t a = kImm ? d.imm : v.reg<S>(d.reg);
  const I128 p = I128{sign_extend(a & size_mask(S), S)} * I128{sign_extend(b, S)};
  const uint64_t low = static_cast<uint64_t>(p) & size_mask(S);
  v.set_reg<S>(d.reg, low);
  v.set_arith_flags(kFlagsArith, mul_flags(low, S, p != I128{sign_extend(low, S)}));
  return Exec::kNext;
}

template <unsigned S, bool kMem, bool kSigned>
Exec div(Vcpu& v, const DecodedInsn& d) {
  uint64_t src;
  if (!load_source<S, kMem>(v, d, src)) return Exec::kFault;
  if (src == 0) return v.raise(kVecDe);
  const U128 dividend = get_pair<S>(v);
  uint64_t quot, rem;
  if constexpr (kSigned) {
    constexpr unsigned kShift = 128 - (S == 1 ? 16 : S * 16);
    const I128 n = static_cast<I128>(dividend << kShift) >> kShift;
    const I128 m = sign_extend(src, S);
    const I128 min = -(I128{1} << (S * 8 - 1)), max = (I128{1} << (S * 8 - 1)) - 1;
    // n / -1 is -n, which I128 cannot hold for n = INT128_MIN: range-check n instead.
    if (m == -1 && (n < -max || n > -min)) return v.raise(kVecDe);
    const I128 q = m == -1 ? -n : n / m;
    if (q < min || q > max) return v.raise(kVecDe);
    quot = static_cast<uint64_t>(q) & size_mask(S);
    rem = static_cast<uint64_t>(m == -1 ? 0 : n % m) & size_mask(S);
  } else {
    const U128 q = dividend / src;
    if ((q >> (S * 8)) != 0) return v.raise(kVecDe);
    quot = static_cast<uint64_t>(q);
    rem = static_cast<uint64_t>(dividend % src);
  }
  set_pair<S>(v, quot, rem);  // for bytes: AL = quotient, AH = remainder
  return Exec::kNext;
}

// Chooses Op<S, kMem, kFlag> by size.
#define DENSEVM_BY_SIZE(fn, mem, flag)                                                \
  switch (d.size) {                                                                   \
    case 1: d.handler = &fn<1, mem, flag>; return true;                               \
    case 2: d.handler = &fn<2, mem, flag>; return true;                               \
    case 4: d.handler = &fn<4, mem, flag>; return true;                               \
    case 8: d.handler = &fn<8, mem, flag>; return true;                               \
    default: return false;                                                            \
  }

template <bool kSigned>
bool build_mul(const DecodeContext& c, DecodedInsn& d) {
  if (c.form(OpKind::kMem)) { DENSEVM_BY_SIZE(mul1, true, kSigned) }
  if (c.form(OpKind::kReg)) { DENSEVM_BY_SIZE(mul1, false, kSigned) }
  if constexpr (kSigned) {
    if (d.size == 1) return false;
    if (c.form(OpKind::kReg, OpKind::kReg)) { DENSEVM_BY_SIZE(imul, false, false) }
    if (c.form(OpKind::kReg, OpKind::kMem)) { DENSEVM_BY_SIZE(imul, true, false) }
    if (c.form(OpKind::kReg, OpKind::kReg, OpKind::kImm)) { DENSEVM_BY_SIZE(imul, false, true) }
    if (c.form(OpKind::kReg, OpKind::kMem, OpKind::kImm)) { DENSEVM_BY_SIZE(imul, true, true) }
  }
  return false;
}

template <bool kSigned>
bool build_div(const DecodeContext& c, DecodedInsn& d) {
  if (c.form(OpKind::kMem)) { DENSEVM_BY_SIZE(div, true, kSigned) }
  if (c.form(OpKind::kReg)) { DENSEVM_BY_SIZE(div, false, kSigned) }
  return false;
}

#undef DENSEVM_BY_SIZE

}  // namespace

void register_muldiv() {
  register_builder(ZYDIS_MNEMONIC_MUL, &build_mul<false>);
  register_builder(ZYDIS_MNEMONIC_IMUL, &build_mul<true>);
  register_builder(ZYDIS_MNEMONIC_DIV, &build_div<false>);
  register_builder(ZYDIS_MNEMONIC_IDIV, &build_div<true>);
}

}  // namespace densevm::cpu
