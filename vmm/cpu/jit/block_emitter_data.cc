// Inline data movement: MOV, MOVZX/MOVSX/MOVSXD, LEA, SETcc, CMOVcc, PUSH, POP — the
// handlers of insn_data.cc, access for access.
#include "vmm/cpu/jit/block_emitter.h"

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

BlockEmitter::Done BlockEmitter::emit_move(const Site& s) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size;
  const Operand dst = operand(g, 0), src = operand(g, 1);
  if (!gpr_size(size) || operand(g, 2) != Operand::kNone) return Done::kNo;
  if (dst == Operand::kGpr && src == Operand::kGpr) {
    load_gpr(rax, d.rm, size);
    store_gpr(d.reg, size, rax);
  } else if (dst == Operand::kGpr && src == Operand::kImm) {
    a_.mov(rax, d.imm & size_mask(size));
    store_gpr(d.reg, size, rax);
  } else if (dst == Operand::kGpr && src == Operand::kMem) {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
    store_gpr(d.reg, size, rax);
  } else if (dst == Operand::kMem && src == Operand::kGpr) {
    const bool stack = effective_address(s, rsi);
    load_gpr(rax, d.reg, size);
    store_mem(s, rsi, size, rax, stack);
  } else if (dst == Operand::kMem && src == Operand::kImm) {
    const bool stack = effective_address(s, rsi);
    a_.mov(rax, d.imm & size_mask(size));
    store_mem(s, rsi, size, rax, stack);
  } else {
    return Done::kNo;
  }
  return Done::kNext;
}

BlockEmitter::Done BlockEmitter::emit_extend(const Site& s) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const Operand src = operand(g, 1);
  if (operand(g, 0) != Operand::kGpr || (src != Operand::kGpr && src != Operand::kMem)) {
    return Done::kNo;
  }
  const unsigned to = d.size, from = g.ops[1].size / 8;
  // The forms insn_data.cc builds.
  const bool built = (to == 2 && from == 1) || (to == 4 && from == 1) || (to == 8 && from == 1) ||
                     (to == 4 && from == 2) || (to == 8 && from == 2) || (to == 8 && from == 4) ||
                     (to == 4 && from == 4) || (to == 2 && from == 2);
  if (!built) return Done::kNo;
  if (src == Operand::kGpr) {
    load_gpr(rax, d.rm, from);
  } else {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, from, rax, stack);
  }
  if (g.z.mnemonic != ZYDIS_MNEMONIC_MOVZX) {
    if (from == 1) a_.movsx(rax, al);
    if (from == 2) a_.movsx(rax, ax);
    if (from == 4) a_.movsxd(rax, eax);
  }
  store_gpr(d.reg, to, rax);
  return Done::kNext;
}

BlockEmitter::Done BlockEmitter::emit_lea(const Site& s) {
  const DecodedInsn& d = s.g->d;
  if (operand(*s.g, 0) != Operand::kGpr || (d.size != 2 && d.size != 4 && d.size != 8)) {
    return Done::kNo;
  }
  (void)effective_address(s, rax);  // LEA's segment is cleared at decode
  store_gpr(d.reg, d.size, rax);
  return Done::kNext;
}

BlockEmitter::Done BlockEmitter::emit_setcc(const Site& s) {
  const GuestInsn& g = *s.g;
  const Operand dst = operand(g, 0);
  if (dst != Operand::kGpr && dst != Operand::kMem) return Done::kNo;
  a_.set(condition(g.d.cond), al);
  a_.movzx(eax, al);
  if (dst == Operand::kGpr) {
    store_gpr(g.d.reg, 1, rax);
  } else {
    const bool stack = effective_address(s, rsi);
    store_mem(s, rsi, 1, rax, stack);
    flags_.host_live = false;
  }
  return Done::kNext;
}

// CMOVcc reads its source whatever the condition, and a 32-bit one zero-extends its
// destination even when the condition is false.
BlockEmitter::Done BlockEmitter::emit_cmov(const Site& s) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const Operand src = operand(g, 1);
  if (operand(g, 0) != Operand::kGpr || (src != Operand::kGpr && src != Operand::kMem) ||
      !gpr_size(d.size) || d.size == 1) {
    return Done::kNo;
  }
  a_.set(condition(d.cond), r15b);  // r15 survives a slow access
  if (src == Operand::kGpr) {
    load_gpr(rcx, d.rm, d.size);
  } else {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, d.size, rcx, stack);
  }
  load_gpr(rax, d.reg, d.size);
  a_.test(r15b, r15b);
  a_.cmovnz(rax, rcx);
  store_gpr(d.reg, d.size, rax);
  flags_.host_live = false;
  return Done::kNext;
}

// PUSH: the value first (a register, an immediate, or memory through its own address),
// then the store below RSP; RSP changes only once the store went through.
BlockEmitter::Done BlockEmitter::emit_push(const Site& s) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const Operand src = operand(g, 0);
  const unsigned size = g.ops[0].size == 16 ? 2 : 8;
  if (src == Operand::kGpr) {
    load_gpr(rax, d.reg, size);
  } else if (src == Operand::kImm) {
    a_.mov(rax, d.imm & size_mask(size));
  } else if (src == Operand::kMem) {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
  } else {
    return Done::kNo;
  }
  a_.mov(rsi, gpr(kRsp, 8));
  a_.lea(rsi, ptr(rsi, -static_cast<int32_t>(size)));
  store_mem(s, rsi, size, rax, true);
  a_.mov(gpr(kRsp, 8), rsi);
  flags_.host_live = false;
  return Done::kNext;
}

BlockEmitter::Done BlockEmitter::emit_pop(const Site& s) {
  const GuestInsn& g = *s.g;
  if (operand(g, 0) != Operand::kGpr) return Done::kNo;  // POP m: the handler
  const unsigned size = g.ops[0].size == 16 ? 2 : 8;
  a_.mov(rsi, gpr(kRsp, 8));
  load_mem(s, rsi, size, rax, true);
  a_.lea(rsi, ptr(rsi, static_cast<int32_t>(size)));
  a_.mov(gpr(kRsp, 8), rsi);
  store_gpr(g.d.reg, size, rax);  // POP RSP: the value read wins over the increment
  flags_.host_live = false;
  return Done::kNext;
}

}  // namespace densevm::cpu::jit
