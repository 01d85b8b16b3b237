// Control flow: JMP, Jcc, JRCXZ, LOOP*, CALL and RET (near forms).
// A branch to a non-canonical address faults with #GP at the branch (SDM Vol 2A JMP).
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

Exec jump_to(Vcpu& v, uint64_t target) {
  if (!is_canonical(target)) return v.raise_gp0();
  v.state().rip = target;
  return Exec::kJump;
}

Exec jmp_rel(Vcpu& v, const DecodedInsn& d) { return jump_to(v, v.state().rip + d.imm); }

Exec jcc(Vcpu& v, const DecodedInsn& d) {
  return v.cond(d.cond) ? jump_to(v, v.state().rip + d.imm) : Exec::kNext;
}

// 0 jrcxz, 1 loop, 2 loope, 3 loopne; d.aux = address size (4 or 8).
template <int kKind>
Exec loop_insn(Vcpu& v, const DecodedInsn& d) {
  uint64_t count = v.gpr(kRcx);
  if (d.aux == 4) count = static_cast<uint32_t>(count);
  bool taken;
  if constexpr (kKind == 0) {
    taken = count == 0;
  } else {
    const uint64_t next = count - 1;
    if (d.aux == 4) v.set_reg<4>(kRcx, next); else v.gpr(kRcx) = next;
    taken = (d.aux == 4 ? static_cast<uint32_t>(next) : next) != 0;
    if constexpr (kKind == 2) taken = taken && v.cond(kCondZ);
    if constexpr (kKind == 3) taken = taken && v.cond(kCondNz);
  }
  return taken ? jump_to(v, v.state().rip + d.imm) : Exec::kNext;
}

template <bool kMem>
Exec jmp_indirect(Vcpu& v, const DecodedInsn& d) {
  uint64_t target;
  if constexpr (kMem) {
    if (!v.read<8>(v.effective_address(d), target)) return Exec::kFault;
  } else {
    target = v.gpr(d.reg);
  }
  return jump_to(v, target);
}

Exec call_rel(Vcpu& v, const DecodedInsn& d) {
  const uint64_t target = v.state().rip + d.imm;
  if (!is_canonical(target)) return v.raise_gp0();
  if (!v.push(v.state().rip)) return Exec::kFault;
  v.state().rip = target;
  return Exec::kJump;
}

template <bool kMem>
Exec call_indirect(Vcpu& v, const DecodedInsn& d) {
  uint64_t target;
  if constexpr (kMem) {
    if (!v.read<8>(v.effective_address(d), target)) return Exec::kFault;
  } else {
    target = v.gpr(d.reg);
  }
  if (!is_canonical(target)) return v.raise_gp0();
  if (!v.push(v.state().rip)) return Exec::kFault;
  v.state().rip = target;
  return Exec::kJump;
}

Exec ret(Vcpu& v, const DecodedInsn& d) {
  uint64_t target;
  v.mark_stack_access();
  if (!v.read<8>(v.gpr(kRsp), target)) return Exec::kFault;
  if (!is_canonical(target)) return v.raise_gp0();
  v.gpr(kRsp) += 8 + d.imm;
  v.state().rip = target;
  return Exec::kJump;
}

bool build_jmp(const DecodeContext& c, DecodedInsn& d) {
  if (c.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return build_far_jmp(c, d);
  if (c.kind[0] == OpKind::kImm) d.handler = &jmp_rel;
  else if (c.kind[0] == OpKind::kMem && d.size == 8) d.handler = &jmp_indirect<true>;
  else if (c.kind[0] == OpKind::kReg && d.size == 8) d.handler = &jmp_indirect<false>;
  else return false;
  return true;
}

bool build_call(const DecodeContext& c, DecodedInsn& d) {
  if (c.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return build_far_call(c, d);
  if (c.kind[0] == OpKind::kImm) d.handler = &call_rel;
  else if (c.kind[0] == OpKind::kMem && d.size == 8) d.handler = &call_indirect<true>;
  else if (c.kind[0] == OpKind::kReg && d.size == 8) d.handler = &call_indirect<false>;
  else return false;
  return true;
}

bool build_ret(const DecodeContext& c, DecodedInsn& d) {
  if (c.insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) return build_far_ret(c, d);
  if (d.size != 8) return false;
  d.imm = c.kind[0] == OpKind::kImm ? (d.imm & 0xffff) : 0;
  d.handler = &ret;
  return true;
}

bool build_jcc(const DecodeContext& c, DecodedInsn& d) {
  d.cond = c.insn.opcode & 0xf;
  d.handler = &jcc;
  return true;
}

template <int kKind>
bool build_loop(const DecodeContext& c, DecodedInsn& d) {
  d.aux = static_cast<uint8_t>(c.insn.address_width / 8);
  d.handler = &loop_insn<kKind>;
  return true;
}

const ZydisMnemonic kJcc[] = {
    ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
    ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
    ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
    ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE};

}  // namespace

void register_control_flow() {
  register_builder(ZYDIS_MNEMONIC_JMP, &build_jmp);
  register_builder(ZYDIS_MNEMONIC_CALL, &build_call);
  register_builder(ZYDIS_MNEMONIC_RET, &build_ret);
  for (ZydisMnemonic m : kJcc) register_builder(m, &build_jcc);
  register_builder(ZYDIS_MNEMONIC_JRCXZ, &build_loop<0>);
  register_builder(ZYDIS_MNEMONIC_JECXZ, &build_loop<0>);
  register_builder(ZYDIS_MNEMONIC_LOOP, &build_loop<1>);
  register_builder(ZYDIS_MNEMONIC_LOOPE, &build_loop<2>);
  register_builder(ZYDIS_MNEMONIC_LOOPNE, &build_loop<3>);
}

}  // namespace densevm::cpu
