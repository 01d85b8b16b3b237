// Data movement: MOV MOVZX MOVSX MOVSXD LEA XCHG CMPXCHG XADD PUSH POP BSWAP LEAVE, the
// sign-extension family (CBW..CQO), SETcc, CMOVcc and NOP.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

template <unsigned S, Form F>
struct Mov {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    uint64_t value;
    if constexpr (F == Form::kRR) {
      value = v.reg<S>(d.rm);
    } else if constexpr (F == Form::kRM) {
      if (!v.read<S>(v.effective_address(d), value)) return Exec::kFault;
    } else if constexpr (F == Form::kMR) {
      value = v.reg<S>(d.reg);
    } else {
      value = d.imm & size_mask(S);
    }
    if constexpr (form_has_mem_dst(F)) {
      return v.write<S>(v.effective_address(d), value) ? Exec::kNext : Exec::kFault;
    } else {
      v.set_reg<S>(d.reg, value);
      return Exec::kNext;
    }
  }
};

bool build_mov(const DecodeContext& c, DecodedInsn& d) {
  for (unsigned i = 0; i < 2; ++i) {
    if (c.kind[i] == OpKind::kReg && ZydisRegisterGetClass(c.ops[i].reg.value) != ZYDIS_REGCLASS_GPR8 &&
        ZydisRegisterGetClass(c.ops[i].reg.value) != ZYDIS_REGCLASS_GPR16 &&
        ZydisRegisterGetClass(c.ops[i].reg.value) != ZYDIS_REGCLASS_GPR32 &&
        ZydisRegisterGetClass(c.ops[i].reg.value) != ZYDIS_REGCLASS_GPR64) {
      return build_mov_system(c, d);
    }
  }
  Form f;
  if (!classify(c, f) || f == Form::kR || f == Form::kM) return false;
  d.handler = by_form<Mov>(f, d.size);
  return true;
}

// MOVZX / MOVSX / MOVSXD: D = destination size, S = source size.
template <unsigned D, unsigned S, bool kSigned, bool kMem>
Exec extend(Vcpu& v, const DecodedInsn& d) {
  uint64_t src;
  if constexpr (kMem) {
    if (!v.read<S>(v.effective_address(d), src)) return Exec::kFault;
  } else {
    src = v.reg<S>(d.rm);
  }
  if constexpr (kSigned) src = static_cast<uint64_t>(sign_extend(src, S));
  v.set_reg<D>(d.reg, src & size_mask(D));
  return Exec::kNext;
}

template <bool kSigned>
bool build_extend(const DecodeContext& c, DecodedInsn& d) {
  const bool mem = c.kind[1] == OpKind::kMem;
  if (c.kind[0] != OpKind::kReg || (!mem && c.kind[1] != OpKind::kReg)) return false;
  const unsigned src = c.op_size(1);
#define DENSEVM_EXT(DS, SS)                                                        \
  if (d.size == DS && src == SS) {                                                 \
    d.handler = mem ? &extend<DS, SS, kSigned, true> : &extend<DS, SS, kSigned, false>; \
    return true;                                                                   \
  }
  DENSEVM_EXT(2, 1) DENSEVM_EXT(4, 1) DENSEVM_EXT(8, 1) DENSEVM_EXT(4, 2) DENSEVM_EXT(8, 2)
  DENSEVM_EXT(8, 4) DENSEVM_EXT(4, 4) DENSEVM_EXT(2, 2)
#undef DENSEVM_EXT
  return false;
}

template <unsigned S>
Exec lea(Vcpu& v, const DecodedInsn& d) {
  v.set_reg<S>(d.reg, v.effective_address(d) & size_mask(S));
  return Exec::kNext;
}

bool build_lea(const DecodeContext&, DecodedInsn& d) {
  d.seg = kSegNone;  // LEA computes the offset only
  switch (d.size) {
    case 2: d.handler = &lea<2>; return true;
    case 4: d.handler = &lea<4>; return true;
    case 8: d.handler = &lea<8>; return true;
    default: return false;
  }
}

template <unsigned S, Form F>
struct Xchg {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    if constexpr (F == Form::kRR) {
      const uint64_t a = v.reg<S>(d.reg), b = v.reg<S>(d.rm);
      v.set_reg<S>(d.reg, b);
      v.set_reg<S>(d.rm, a);
    } else {
      const uint64_t addr = v.effective_address(d);
      uint64_t m;
      if (!v.read<S>(addr, m)) return Exec::kFault;
      if (!v.write<S>(addr, v.reg<S>(d.reg))) return Exec::kFault;
      v.set_reg<S>(d.reg, m);
    }
    return Exec::kNext;
  }
};

bool build_xchg(const DecodeContext& c, DecodedInsn& d) {
  Form f;
  if (!classify(c, f)) return false;
  if (f == Form::kRR) {
    d.handler = by_form<Xchg>(f, d.size);
  } else if (f == Form::kRM || f == Form::kMR) {
    d.handler = by_form<Xchg>(Form::kMR, d.size);
  } else {
    return false;
  }
  return true;
}

// CMPXCHG r/m, r: compares the accumulator with the destination (SDM Vol 2A CMPXCHG).
template <unsigned S, Form F>
struct Cmpxchg {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    Operand<S, F> o;
    if (!o.load(v, d)) return Exec::kFault;
    const uint64_t acc = v.reg<S>(kRax);
    const bool equal = acc == o.dst;
    // A memory destination is always written (SDM); a register one only on success — a
    // 32-bit register that compared unequal keeps its upper half, as hardware does.
    if (form_has_mem_dst(F) || equal) {
      if (!o.store(v, d, equal ? o.src : o.dst)) return Exec::kFault;
    }
    if (!equal) v.set_reg<S>(kRax, o.dst);
    v.set_flags_lazy(FlagOp::kSub, S, acc, o.dst, (acc - o.dst) & size_mask(S));
    return Exec::kNext;
  }
};

template <unsigned S, Form F>
struct Xadd {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    Operand<S, F> o;
    if (!o.load(v, d)) return Exec::kFault;
    const uint64_t sum = (o.dst + o.src) & size_mask(S);
    if constexpr (F == Form::kRR) {
      v.set_reg<S>(d.rm, o.dst);
      v.set_reg<S>(d.reg, sum);
    } else {
      if (!o.store(v, d, sum)) return Exec::kFault;
      v.set_reg<S>(d.reg, o.dst);
    }
    v.set_flags_lazy(FlagOp::kAdd, S, o.dst, o.src, sum);
    return Exec::kNext;
  }
};

template <template <unsigned, Form> class Fn>
bool build_rm_r(const DecodeContext& c, DecodedInsn& d) {
  Form f;
  if (!classify(c, f) || (f != Form::kRR && f != Form::kMR)) return false;
  d.handler = by_form<Fn>(f, d.size);
  return true;
}

// PUSH and POP (64-bit, or 16-bit with 0x66).
template <unsigned S, Form F>
struct Push {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    uint64_t value;
    if constexpr (F == Form::kR) {
      value = v.reg<S>(d.reg);
    } else if constexpr (F == Form::kM) {
      if (!v.read<S>(v.effective_address(d), value)) return Exec::kFault;
    } else {
      value = d.imm & size_mask(S);
    }
    const uint64_t rsp = v.gpr(kRsp) - S;
    v.mark_stack_access();
    if (!v.write<S>(rsp, value)) return Exec::kFault;
    v.gpr(kRsp) = rsp;
    return Exec::kNext;
  }
};

template <unsigned S, Form F>
struct Pop {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    uint64_t value;
    const uint64_t old_rsp = v.gpr(kRsp);
    v.mark_stack_access();
    if (!v.read<S>(old_rsp, value)) return Exec::kFault;
    v.gpr(kRsp) = old_rsp + S;
    if constexpr (F == Form::kR) {
      v.set_reg<S>(d.reg, value);
    } else {
      // The address is computed after RSP is incremented (SDM Vol 2B POP).
      if (!v.write<S>(v.effective_address(d), value)) {
        v.gpr(kRsp) = old_rsp;
        return Exec::kFault;
      }
    }
    return Exec::kNext;
  }
};

template <bool kPush>
bool build_stack(const DecodeContext& c, DecodedInsn& d) {
  Form f;
  if (c.form(OpKind::kImm)) {
    f = Form::kRI;
  } else if (!classify(c, f) || (f != Form::kR && f != Form::kM)) {
    return false;
  }
  if (f == Form::kR && ZydisRegisterGetClass(c.ops[0].reg.value) == ZYDIS_REGCLASS_SEGMENT) return false;
  if (!kPush && f == Form::kRI) return false;
  const unsigned size = c.op_size(0) == 2 ? 2 : 8;
  d.handler = kPush ? by_form<Push>(f, size) : by_form<Pop>(f, size);
  return true;
}

template <unsigned S>
Exec bswap(Vcpu& v, const DecodedInsn& d) {
  const uint64_t x = v.reg<S>(d.reg);
  if constexpr (S == 8) v.set_reg<8>(d.reg, __builtin_bswap64(x));
  else v.set_reg<4>(d.reg, __builtin_bswap32(static_cast<uint32_t>(x)));
  return Exec::kNext;
}

bool build_bswap(const DecodeContext&, DecodedInsn& d) {
  if (d.size == 8) d.handler = &bswap<8>;
  else if (d.size == 4) d.handler = &bswap<4>;
  else return false;
  return true;
}

// CBW/CWDE/CDQE: widen the accumulator; CWD/CDQ/CQO: fill RDX with its sign.
template <unsigned S, bool kIntoRdx>
Exec widen(Vcpu& v, const DecodedInsn&) {
  if constexpr (kIntoRdx) {
    const uint64_t sign = (v.reg<S>(kRax) & sign_bit(S)) ? size_mask(S) : 0;
    v.set_reg<S>(kRdx, sign);
  } else {
    v.set_reg<S>(kRax, static_cast<uint64_t>(sign_extend(v.reg<S / 2>(kRax), S / 2)));
  }
  return Exec::kNext;
}

template <unsigned S, bool kIntoRdx>
bool build_widen(const DecodeContext&, DecodedInsn& d) {
  d.handler = &widen<S, kIntoRdx>;
  return true;
}

Exec leave(Vcpu& v, const DecodedInsn&) {
  uint64_t rbp;
  v.mark_stack_access();
  if (!v.read<8>(v.gpr(kRbp), rbp)) return Exec::kFault;
  v.gpr(kRsp) = v.gpr(kRbp) + 8;
  v.gpr(kRbp) = rbp;
  return Exec::kNext;
}

template <bool kMem>
Exec setcc(Vcpu& v, const DecodedInsn& d) {
  const uint64_t value = v.cond(d.cond) ? 1 : 0;
  if constexpr (kMem) return v.write<1>(v.effective_address(d), value) ? Exec::kNext : Exec::kFault;
  v.set_reg<1>(d.reg, value);
  return Exec::kNext;
}

bool build_setcc(const DecodeContext& c, DecodedInsn& d) {
  d.cond = c.insn.opcode & 0xf;
  d.handler = c.kind[0] == OpKind::kMem ? &setcc<true> : &setcc<false>;
  return true;
}

template <unsigned S, Form F>
struct Cmov {
  static Exec run(Vcpu& v, const DecodedInsn& d) {
    uint64_t src;
    if constexpr (F == Form::kRM) {
      if (!v.read<S>(v.effective_address(d), src)) return Exec::kFault;
    } else {
      src = v.reg<S>(d.rm);
    }
    // A 32-bit CMOV zero-extends its destination even when the condition is false.
    v.set_reg<S>(d.reg, v.cond(d.cond) ? src : v.reg<S>(d.reg));
    return Exec::kNext;
  }
};

bool build_cmov(const DecodeContext& c, DecodedInsn& d) {
  Form f;
  if (!classify(c, f) || (f != Form::kRR && f != Form::kRM)) return false;
  d.cond = c.insn.opcode & 0xf;
  d.handler = by_form<Cmov>(f, d.size);
  return true;
}

Exec nop(Vcpu&, const DecodedInsn&) { return Exec::kNext; }

bool build_nop(const DecodeContext&, DecodedInsn& d) {
  d.handler = &nop;
  return true;
}

const ZydisMnemonic kSetcc[] = {
    ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
    ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
    ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
    ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE};
const ZydisMnemonic kCmov[] = {
    ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
    ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
    ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
    ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE};

}  // namespace

void register_data_movement() {
  register_builder(ZYDIS_MNEMONIC_MOV, &build_mov);
  register_builder(ZYDIS_MNEMONIC_MOVZX, &build_extend<false>);
  register_builder(ZYDIS_MNEMONIC_MOVSX, &build_extend<true>);
  register_builder(ZYDIS_MNEMONIC_MOVSXD, &build_extend<true>);
  register_builder(ZYDIS_MNEMONIC_LEA, &build_lea);
  register_builder(ZYDIS_MNEMONIC_XCHG, &build_xchg);
  register_builder(ZYDIS_MNEMONIC_CMPXCHG, &build_rm_r<Cmpxchg>);
  register_builder(ZYDIS_MNEMONIC_XADD, &build_rm_r<Xadd>);
  register_builder(ZYDIS_MNEMONIC_PUSH, &build_stack<true>);
  register_builder(ZYDIS_MNEMONIC_POP, &build_stack<false>);
  register_builder(ZYDIS_MNEMONIC_BSWAP, &build_bswap);
  register_builder(ZYDIS_MNEMONIC_CBW, &build_widen<2, false>);
  register_builder(ZYDIS_MNEMONIC_CWDE, &build_widen<4, false>);
  register_builder(ZYDIS_MNEMONIC_CDQE, &build_widen<8, false>);
  register_builder(ZYDIS_MNEMONIC_CWD, &build_widen<2, true>);
  register_builder(ZYDIS_MNEMONIC_CDQ, &build_widen<4, true>);
  register_builder(ZYDIS_MNEMONIC_CQO, &build_widen<8, true>);
  register_builder(ZYDIS_MNEMONIC_LEAVE, [](const DecodeContext&, DecodedInsn& d) {
    d.handler = &leave;
    return true;
  });
  for (ZydisMnemonic m : kSetcc) register_builder(m, &build_setcc);
  for (ZydisMnemonic m : kCmov) register_builder(m, &build_cmov);
  register_builder(ZYDIS_MNEMONIC_NOP, &build_nop);
  register_builder(ZYDIS_MNEMONIC_PAUSE, &build_nop);
  register_builder(ZYDIS_MNEMONIC_ENDBR64, &build_nop);
}

}  // namespace densevm::cpu
