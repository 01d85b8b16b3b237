// Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC NEG NOT, and
// the flag instructions. Flags are recorded lazily (flags.h) after the destination is
// written, so a faulting store leaves RFLAGS untouched.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

struct AddOp {
  static constexpr bool kWrites = true, kCarry = false;
  static uint64_t apply(uint64_t a, uint64_t b, bool) { return a + b; }
  static void flags(Vcpu& v, unsigned s, uint64_t a, uint64_t b, uint64_t r, bool) {
    v.set_flags_lazy(FlagOp::kAdd, s, a, b, r);
  }
};
struct AdcOp {
  static constexpr bool kWrites = true, kCarry = true;
  static uint64_t apply(uint64_t a, uint64_t b, bool cf) { return a + b + cf; }
  static void flags(Vcpu& v, unsigned s, uint64_t a, uint64_t b, uint64_t r, bool cf) {
    v.set_flags_lazy(FlagOp::kAdc, s, a, b, r);
    v.lazy().carry_in = cf;
  }
};
struct SubOp {
  static constexpr bool kWrites = true, kCarry = false;
  static uint64_t apply(uint64_t a, uint64_t b, bool) { return a - b; }
  static void flags(Vcpu& v, unsigned s, uint64_t a, uint64_t b, uint64_t r, bool) {
    v.set_flags_lazy(FlagOp::kSub, s, a, b, r);
  }
};
struct SbbOp {
  static constexpr bool kWrites = true, kCarry = true;
  static uint64_t apply(uint64_t a, uint64_t b, bool cf) { return a - b - cf; }
  static void flags(Vcpu& v, unsigned s, uint64_t a, uint64_t b, uint64_t r, bool cf) {
    v.set_flags_lazy(FlagOp::kSbb, s, a, b, r);
    v.lazy().carry_in = cf;
  }
};
struct CmpOp : SubOp {
  static constexpr bool kWrites = false;
};
template <int kKind>  // 0 and, 1 or, 2 xor, 3 test
struct LogicOp {
  static constexpr bool kWrites = kKind != 3, kCarry = false;
  static uint64_t apply(uint64_t a, uint64_t b, bool) {
    if constexpr (kKind == 1) return a | b;
    if constexpr (kKind == 2) return a ^ b;
    return a & b;
  }
  static void flags(Vcpu& v, unsigned s, uint64_t a, uint64_t b, uint64_t r, bool) {
    v.set_flags_lazy(FlagOp::kLogic, s, a, b, r);
  }
};

template <class Op>
struct Binary {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      Operand<S, F> o;
      if (!o.load(v, d)) return Exec::kFault;
      bool cf = false;
      if constexpr (Op::kCarry) cf = v.flag(kFlagCf);
      const uint64_t r = Op::apply(o.dst, o.src, cf) & size_mask(S);
      if constexpr (Op::kWrites) {
        if (!o.store(v, d, r)) return Exec::kFault;
      }
      Op::flags(v, S, o.dst, o.src, r, cf);
      return Exec::kNext;
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    Form f;
    if (!classify(c, f) || f == Form::kR || f == Form::kM) return false;
    d.handler = by_form<Fn>(f, d.size);
    return true;
  }
};

// Unary: 0 inc, 1 dec, 2 neg, 3 not.
template <int kKind>
struct Unary {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      Operand<S, F> o;
      if (!o.load(v, d)) return Exec::kFault;
      const uint64_t a = o.dst;
      uint64_t r;
      if constexpr (kKind == 0) r = a + 1;
      else if constexpr (kKind == 1) r = a - 1;
      else if constexpr (kKind == 2) r = 0 - a;
      else r = ~a;
      r &= size_mask(S);
      if constexpr (kKind <= 1) {
        const bool cf = v.flag(kFlagCf);  // INC and DEC keep CF
        if (!o.store(v, d, r)) return Exec::kFault;
        v.set_flags_lazy(kKind == 0 ? FlagOp::kInc : FlagOp::kDec, S, a, 1, r);
        v.lazy().carry_in = cf;
      } else {
        if (!o.store(v, d, r)) return Exec::kFault;
        if constexpr (kKind == 2) v.set_flags_lazy(FlagOp::kSub, S, 0, a, r);
      }
      return Exec::kNext;
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    Form f;
    if (!classify(c, f) || (f != Form::kR && f != Form::kM)) return false;
    d.handler = by_form<Fn>(f, d.size);
    return true;
  }
};

// CLC STC CMC CLD STD and LAHF/SAHF.
template <int kKind>
Exec flag_insn(Vcpu& v, const DecodedInsn&) {
  uint64_t f = v.rflags();
  switch (kKind) {
    case 0: f &= ~kFlagCf; break;
    case 1: f |= kFlagCf; break;
    case 2: f ^= kFlagCf; break;
    case 3: f &= ~kFlagDf; break;
    case 4: f |= kFlagDf; break;
    case 5: v.set_reg<1>(kAh, (f & 0xd5) | 2); return Exec::kNext;  // LAHF: SF ZF AF PF CF
    case 6: f = (f & ~uint64_t{0xd5}) | (v.reg<1>(kAh) & 0xd5); break;  // SAHF
  }
  v.set_rflags(f);
  return Exec::kNext;
}

template <int kKind>
bool build_flag(const DecodeContext&, DecodedInsn& d) {
  d.handler = &flag_insn<kKind>;
  return true;
}

}  // namespace

void register_arithmetic() {
  register_builder(ZYDIS_MNEMONIC_ADD, &Binary<AddOp>::build);
  register_builder(ZYDIS_MNEMONIC_ADC, &Binary<AdcOp>::build);
  register_builder(ZYDIS_MNEMONIC_SUB, &Binary<SubOp>::build);
  register_builder(ZYDIS_MNEMONIC_SBB, &Binary<SbbOp>::build);
  register_builder(ZYDIS_MNEMONIC_CMP, &Binary<CmpOp>::build);
  register_builder(ZYDIS_MNEMONIC_AND, &Binary<LogicOp<0>>::build);
  register_builder(ZYDIS_MNEMONIC_OR, &Binary<LogicOp<1>>::build);
  register_builder(ZYDIS_MNEMONIC_XOR, &Binary<LogicOp<2>>::build);
  register_builder(ZYDIS_MNEMONIC_TEST, &Binary<LogicOp<3>>::build);
  register_builder(ZYDIS_MNEMONIC_INC, &Unary<0>::build);
  register_builder(ZYDIS_MNEMONIC_DEC, &Unary<1>::build);
  register_builder(ZYDIS_MNEMONIC_NEG, &Unary<2>::build);
  register_builder(ZYDIS_MNEMONIC_NOT, &Unary<3>::build);
  register_builder(ZYDIS_MNEMONIC_CLC, &build_flag<0>);
  register_builder(ZYDIS_MNEMONIC_STC, &build_flag<1>);
  register_builder(ZYDIS_MNEMONIC_CMC, &build_flag<2>);
  register_builder(ZYDIS_MNEMONIC_CLD, &build_flag<3>);
  register_builder(ZYDIS_MNEMONIC_STD, &build_flag<4>);
  register_builder(ZYDIS_MNEMONIC_LAHF, &build_flag<5>);
  register_builder(ZYDIS_MNEMONIC_SAHF, &build_flag<6>);
}

}  // namespace densevm::cpu
