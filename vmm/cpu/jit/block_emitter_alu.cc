// Inline integer arithmetic: ADD ADC SUB SBB CMP AND OR XOR TEST, INC DEC NEG NOT — the
// handlers of insn_arith.cc. The host runs the same operation at the same size, so its flags are the
// guest's for a branch right after; the lazy-flags record is written as the handler writes
// it, after the destination, so a faulting store leaves the guest's flags alone.
#include "vmm/cpu/jit/block_emitter.h"

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

// kind: 0 add, 1 sub, 2 cmp, 3 and, 4 or, 5 xor, 6 test.
BlockEmitter::Done BlockEmitter::emit_alu(const Site& s, FlagOp op, int kind) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size;
  const Operand dst = operand(g, 0), src = operand(g, 1);
  if (size != 1 && size != 2 && size != 4 && size != 8) return Done::kNo;
  if ((dst != Operand::kGpr && dst != Operand::kMem) ||
      (src != Operand::kGpr && src != Operand::kMem && src != Operand::kImm) ||
      (dst == Operand::kMem && src == Operand::kMem) || operand(g, 2) != Operand::kNone) {
    return Done::kNo;
  }
  const bool writes = kind != 2 && kind != 6;
  bool stack = false;
  // Operand<S, F>::load: the destination, then the source.
  if (dst == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
  } else {
    load_gpr(rax, d.reg, size);
  }
  if (src == Operand::kGpr) {
    load_gpr(rcx, dst == Operand::kGpr ? d.rm : d.reg, size);
  } else if (src == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rcx, stack);
  } else {
    a_.mov(rcx, d.imm & size_mask(size));
  }
  a_.mov(rdx, rax);
  const Gp r = sized(rax, size), b = sized(rcx, size);
  switch (kind) {
    case 0: a_.add(r, b); break;
    case 1:
    case 2: a_.sub(r, b); break;
    case 3:
    case 6: a_.and_(r, b); break;
    case 4: a_.or_(r, b); break;
    default: a_.xor_(r, b); break;
  }
  // The host flags are the guest's from here unless a store's TLB compare follows (a load
  // of an operand came before the op).
  const bool host_live = !(writes && dst == Operand::kMem);
  if (writes) {
    if (dst == Operand::kMem) store_mem(s, rsi, size, rax, stack);
    else store_gpr(d.reg, size, rax);
  }
  if (!flags_needed(s)) {  // a later instruction writes them all first
    flags_ = {host_live, false, op, static_cast<uint8_t>(size)};
    return Done::kNext;
  }
  a_.mov(word_ptr(rbx, l_.lazy_op), static_cast<unsigned>(op) | (size << 8));
  a_.mov(qword_ptr(rbx, l_.lazy_a), rdx);
  a_.mov(qword_ptr(rbx, l_.lazy_b), rcx);
  a_.mov(qword_ptr(rbx, l_.lazy_res), rax);
  flags_ = {host_live, true, op, static_cast<uint8_t>(size)};
  return Done::kNext;
}

// ADC and SBB: the host instruction with the guest's CF put in the host's first.
BlockEmitter::Done BlockEmitter::emit_carry_alu(const Site& s, FlagOp op) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size;
  const Operand dst = operand(g, 0), src = operand(g, 1);
  if (size != 1 && size != 2 && size != 4 && size != 8) return Done::kNo;
  if ((dst != Operand::kGpr && dst != Operand::kMem) ||
      (src != Operand::kGpr && src != Operand::kMem && src != Operand::kImm) ||
      (dst == Operand::kMem && src == Operand::kMem) || operand(g, 2) != Operand::kNone) {
    return Done::kNo;
  }
  carry_into(r15);
  bool stack = false;
  if (dst == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
  } else {
    load_gpr(rax, d.reg, size);
  }
  if (src == Operand::kGpr) {
    load_gpr(rcx, dst == Operand::kGpr ? d.rm : d.reg, size);
  } else if (src == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rcx, stack);
  } else {
    a_.mov(rcx, d.imm & size_mask(size));
  }
  a_.mov(rdx, rax);
  a_.bt(r15d, 0);
  const Gp r = sized(rax, size), b = sized(rcx, size);
  if (op == FlagOp::kAdc) a_.adc(r, b); else a_.sbb(r, b);
  if (dst == Operand::kMem) store_mem(s, rsi, size, rax, stack);
  else store_gpr(d.reg, size, rax);
  // The host flags are the guest's unless a store's TLB compare came after the op.
  const bool host_live = dst != Operand::kMem;
  if (!flags_needed(s)) {
    flags_ = {host_live, false, op, static_cast<uint8_t>(size)};
    return Done::kNext;
  }
  a_.mov(word_ptr(rbx, l_.lazy_op), static_cast<unsigned>(op) | (size << 8));
  a_.mov(qword_ptr(rbx, l_.lazy_a), rdx);
  a_.mov(qword_ptr(rbx, l_.lazy_b), rcx);
  a_.mov(qword_ptr(rbx, l_.lazy_res), rax);
  a_.mov(byte_ptr(rbx, l_.lazy_carry), r15b);
  flags_ = {host_live, true, op, static_cast<uint8_t>(size)};
  return Done::kNext;
}

// kind: 0 inc, 1 dec, 2 neg, 3 not.
BlockEmitter::Done BlockEmitter::emit_unary(const Site& s, int kind) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size;
  const Operand dst = operand(g, 0);
  if ((dst != Operand::kGpr && dst != Operand::kMem) || operand(g, 1) != Operand::kNone ||
      (size != 1 && size != 2 && size != 4 && size != 8)) {
    return Done::kNo;
  }
  if (kind <= 1) carry_into(r15);  // INC and DEC keep CF: recorded as carry_in
  bool stack = false;
  if (dst == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
  } else {
    load_gpr(rax, d.reg, size);
  }
  a_.mov(rdx, rax);
  const Gp r = sized(rax, size);
  switch (kind) {
    case 0: a_.inc(r); break;
    case 1: a_.dec(r); break;
    case 2: a_.neg(r); break;
    default: a_.not_(r); break;
  }
  if (dst == Operand::kMem) store_mem(s, rsi, size, rax, stack);
  else store_gpr(d.reg, size, rax);
  if (kind == 3) return Done::kNext;  // NOT leaves the flags alone (a store's compare: not live)
  const FlagOp op = kind == 0 ? FlagOp::kInc : kind == 1 ? FlagOp::kDec : FlagOp::kSub;
  const bool host_live = dst != Operand::kMem;  // else a store's TLB compare came after the op
  if (kind == 2 && !flags_needed(s)) {
    flags_ = {host_live, false, op, static_cast<uint8_t>(size)};
    return Done::kNext;
  }
  a_.mov(word_ptr(rbx, l_.lazy_op), static_cast<unsigned>(op) | (size << 8));
  if (kind <= 1) {
    a_.mov(qword_ptr(rbx, l_.lazy_a), rdx);
    a_.mov(qword_ptr(rbx, l_.lazy_b), 1);
    a_.mov(byte_ptr(rbx, l_.lazy_carry), r15b);
  } else {  // NEG: the flags of 0 - a
    a_.mov(qword_ptr(rbx, l_.lazy_a), 0);
    a_.mov(qword_ptr(rbx, l_.lazy_b), rdx);
  }
  a_.mov(qword_ptr(rbx, l_.lazy_res), rax);
  flags_ = {host_live, true, op, static_cast<uint8_t>(size)};
  return Done::kNext;
}

}  // namespace densevm::cpu::jit
