// Inline control flow (JMP, Jcc, CALL, RET: insn_control.cc's near forms) and the choice
// of what is inlined at all.
#include "vmm/cpu/jit/block_emitter.h"

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

namespace {

// In condition-code order (flags.h Cond), as insn_control.cc and insn_data.cc build them.
constexpr ZydisMnemonic kJcc[] = {
    ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
    ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
    ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
    ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE};
constexpr ZydisMnemonic kSetcc[] = {
    ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
    ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
    ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
    ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE};
constexpr ZydisMnemonic kCmov[] = {
    ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
    ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
    ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
    ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE};

bool near(const GuestInsn& g) { return g.z.meta.branch_type != ZYDIS_BRANCH_TYPE_FAR; }

// Page offset of a relative branch's target (anywhere: the page is one of many).
int64_t relative_target(const GuestInsn& g) {
  return static_cast<int64_t>(g.off) + g.d.len + static_cast<int64_t>(g.d.imm);
}

}  // namespace

BlockEmitter::Done BlockEmitter::emit_inline(const Site& s) {
  switch (s.g->z.mnemonic) {
    case ZYDIS_MNEMONIC_MOV: return emit_move(s);
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD: return emit_extend(s);
    case ZYDIS_MNEMONIC_LEA: return emit_lea(s);
    case ZYDIS_MNEMONIC_ADD: return emit_alu(s, FlagOp::kAdd, 0);
    case ZYDIS_MNEMONIC_SUB: return emit_alu(s, FlagOp::kSub, 1);
    case ZYDIS_MNEMONIC_ADC: return emit_carry_alu(s, FlagOp::kAdc);
    case ZYDIS_MNEMONIC_SBB: return emit_carry_alu(s, FlagOp::kSbb);
    case ZYDIS_MNEMONIC_SHL: return emit_shift(s, 0);
    case ZYDIS_MNEMONIC_SHR: return emit_shift(s, 1);
    case ZYDIS_MNEMONIC_SAR: return emit_shift(s, 2);
    case ZYDIS_MNEMONIC_IMUL: return emit_imul(s);
    case ZYDIS_MNEMONIC_CMP: return emit_alu(s, FlagOp::kSub, 2);
    case ZYDIS_MNEMONIC_AND: return emit_alu(s, FlagOp::kLogic, 3);
    case ZYDIS_MNEMONIC_OR: return emit_alu(s, FlagOp::kLogic, 4);
    case ZYDIS_MNEMONIC_XOR: return emit_alu(s, FlagOp::kLogic, 5);
    case ZYDIS_MNEMONIC_TEST: return emit_alu(s, FlagOp::kLogic, 6);
    case ZYDIS_MNEMONIC_INC: return emit_unary(s, 0);
    case ZYDIS_MNEMONIC_DEC: return emit_unary(s, 1);
    case ZYDIS_MNEMONIC_NEG: return emit_unary(s, 2);
    case ZYDIS_MNEMONIC_NOT: return emit_unary(s, 3);
    case ZYDIS_MNEMONIC_PUSH: return emit_push(s);
    case ZYDIS_MNEMONIC_POP: return emit_pop(s);
    case ZYDIS_MNEMONIC_JMP: return emit_jmp(s);
    case ZYDIS_MNEMONIC_CALL: return emit_call(s);
    case ZYDIS_MNEMONIC_RET: return emit_ret(s);
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_ENDBR64: return Done::kNext;
    default: break;
  }
  const ZydisMnemonic m = s.g->z.mnemonic;
  for (const ZydisMnemonic jcc : kJcc) {
    if (m == jcc) return emit_jcc(s);
  }
  for (const ZydisMnemonic setcc : kSetcc) {
    if (m == setcc) return emit_setcc(s);
  }
  for (const ZydisMnemonic cmov : kCmov) {
    if (m == cmov) return emit_cmov(s);
  }
  return Done::kNo;
}

BlockEmitter::Done BlockEmitter::emit_jmp(const Site& s) {
  const GuestInsn& g = *s.g;
  if (!near(g)) return Done::kNo;
  const Operand target = operand(g, 0);
  if (target == Operand::kImm) {
    goto_offset(s, s.index + 1, relative_target(g), true);
    return Done::kEndsBlock;
  }
  if (g.d.size != 8) return Done::kNo;
  if (target == Operand::kGpr) {
    load_gpr(rax, g.d.reg, 8);
  } else if (target == Operand::kMem) {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, 8, rax, stack);
  } else {
    return Done::kNo;
  }
  check_canonical(s, rax);
  continue_at(s.index + 1, rax, s.off);
  return Done::kEndsBlock;
}

BlockEmitter::Done BlockEmitter::emit_jcc(const Site& s) {
  const GuestInsn& g = *s.g;
  if (operand(g, 0) != Operand::kImm) return Done::kNo;
  Label taken = a_.newLabel();
  a_.j(condition(g.d.cond), taken);
  goto_offset(s, s.index + 1, s.next, false);
  a_.bind(taken);
  goto_offset(s, s.index + 1, relative_target(g), true);
  return Done::kEndsBlock;
}

// CALL: the target checked, then the return address pushed, then the jump.
BlockEmitter::Done BlockEmitter::emit_call(const Site& s) {
  const GuestInsn& g = *s.g;
  if (!near(g)) return Done::kNo;
  const Operand target = operand(g, 0);
  const int64_t rel = relative_target(g);
  if (target == Operand::kImm) {
    if (rel < 0 || rel >= 4096) {
      a_.mov(r15, static_cast<uint64_t>(rel));
      a_.add(r15, r12);
      check_canonical(s, r15);
    }
  } else if (g.d.size == 8 && target == Operand::kGpr) {
    load_gpr(r15, g.d.reg, 8);
    check_canonical(s, r15);
  } else if (g.d.size == 8 && target == Operand::kMem) {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, 8, rax, stack);
    a_.mov(r15, rax);  // r15 survives the push's slow path
    check_canonical(s, r15);
  } else {
    return Done::kNo;
  }
  a_.mov(rsi, gpr(kRsp, 8));
  a_.lea(rsi, ptr(rsi, -8));
  a_.lea(rax, ptr(r12, s.next));
  store_mem(s, rsi, 8, rax, true);
  a_.mov(gpr(kRsp, 8), rsi);
  if (target != Operand::kImm || rel < 0 || rel >= 4096) {
    continue_at(s.index + 1, r15, s.off);
    return Done::kEndsBlock;
  }
  // A slow push may have asked the run loop to look again: leave at the target then.
  Label leave = a_.newLabel();
  a_.cmp(byte_ptr(rbx, l_.break_inner), 0);
  a_.jne(leave);
  cold_exit(leave, s.index + 1, static_cast<uint16_t>(rel), s.off);
  goto_offset(s, s.index + 1, rel, true);
  return Done::kEndsBlock;
}

BlockEmitter::Done BlockEmitter::emit_ret(const Site& s) {
  const GuestInsn& g = *s.g;
  if (!near(g) || g.d.size != 8) return Done::kNo;
  a_.mov(rsi, gpr(kRsp, 8));
  load_mem(s, rsi, 8, rax, true);
  check_canonical(s, rax);
  a_.lea(rsi, ptr(rsi, static_cast<int32_t>(8 + (g.d.imm & 0xffff))));
  a_.mov(gpr(kRsp, 8), rsi);
  continue_at(s.index + 1, rax, s.off);
  return Done::kEndsBlock;
}

}  // namespace densevm::cpu::jit
