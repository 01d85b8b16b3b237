// Inline SHL SAR SHR (by an immediate, 1 or CL) and IMUL (two and three operands) — the
// handlers of insn_shift.cc and insn_muldiv.cc, with their rules for the flags the SDM
// leaves undefined (vmm/cpu/UNDEFINED.md): the flags are computed as those handlers
// compute them and written as set_arith_flags writes them, unless flag liveness says that
// nothing can see them.
#include "vmm/cpu/jit/block_emitter.h"

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

namespace {

constexpr uint32_t kZfSfPf = kFlagZf | kFlagSf | kFlagPf;

}  // namespace

// kind: 0 SHL, 1 SHR, 2 SAR. With a in rax and the count n >= 1, the value shifted by n - 1
// holds the last bit out at its edge (insn_shift.cc's "wide intermediate"), then one more
// shift gives the result.
BlockEmitter::Done BlockEmitter::emit_shift(const Site& s, int kind) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size, width = 8 * size;
  const unsigned count_mask = size == 8 ? 63 : 31;
  const Operand dst = operand(g, 0), count = operand(g, 1);
  if (!gpr_size(size) || (dst != Operand::kGpr && dst != Operand::kMem) ||
      operand(g, 2) != Operand::kNone) {
    return Done::kNo;
  }
  const bool by_cl = count == Operand::kGpr;
  if (!by_cl && count != Operand::kImm) return Done::kNo;
  if (by_cl && (g.ops[1].reg.value != ZYDIS_REGISTER_CL)) return Done::kNo;
  const unsigned n = static_cast<unsigned>(d.imm) & count_mask;
  bool stack = false;
  if (dst == Operand::kMem) {
    stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rax, stack);
  } else {
    load_gpr(rax, d.reg, size);
  }
  Label zero = a_.newLabel(), done = a_.newLabel();
  if (by_cl) {
    a_.movzx(ecx, byte_ptr(rbx, l_.gpr + 8 * kRcx));
    a_.and_(ecx, count_mask);
    a_.jz(zero);
  } else if (n == 0) {
    // A zero count changes no flag but still writes the destination back.
    if (dst == Operand::kMem) store_mem(s, rsi, size, rax, stack);
    else store_gpr(d.reg, size, rax);
    return Done::kNext;
  }
  a_.mov(rdx, rax);
  if (kind == 2 && size == 1) a_.movsx(rdx, dl);
  if (kind == 2 && size == 2) a_.movsx(rdx, dx);
  if (kind == 2 && size == 4) a_.movsxd(rdx, edx);
  if (by_cl) {
    a_.dec(ecx);
    if (kind == 0) a_.shl(rdx, cl);
    if (kind == 1) a_.shr(rdx, cl);
    if (kind == 2) a_.sar(rdx, cl);
  } else if (n > 1) {
    if (kind == 0) a_.shl(rdx, n - 1);
    if (kind == 1) a_.shr(rdx, n - 1);
    if (kind == 2) a_.sar(rdx, n - 1);
  }
  // CF into edi (kept across a slow store), then the last step of the shift.
  if (kind == 0) {
    a_.mov(rdi, rdx);
    a_.shr(rdi, width - 1);
    a_.and_(edi, 1);
    a_.shl(rdx, 1);
  } else {
    a_.mov(edi, edx);
    a_.and_(edi, 1);
    if (kind == 1) a_.shr(rdx, 1); else a_.sar(rdx, 1);
  }
  if (size == 1) a_.movzx(edx, dl);
  if (size == 2) a_.movzx(edx, dx);
  if (size == 4) a_.mov(edx, edx);
  if (dst == Operand::kMem) store_mem(s, rsi, size, rdx, stack);
  else store_gpr(d.reg, size, rdx);
  if (flags_needed(s) || by_cl) {
    // OF by the count-1 rule on the original operand: SHL MSB ^ MSB-1, SHR MSB, SAR 0.
    if (kind == 0) {
      a_.mov(r9, rax);
      a_.shr(r9, width - 2);
      a_.mov(r10, r9);
      a_.shr(r10, 1);
      a_.xor_(r9, r10);
      a_.and_(r9d, 1);
      a_.shl(r9d, 11);
    } else if (kind == 1) {
      a_.mov(r9, rax);
      a_.shr(r9, width - 1);
      a_.and_(r9d, 1);
      a_.shl(r9d, 11);
    } else {
      a_.mov(r9d, 0);
    }
    result_flags(r10, rdx, size, kZfSfPf);
    a_.or_(r9d, r10d);
    a_.or_(r9d, edi);
    set_arith_flags(r9);
  } else {
    flags_ = {};
  }
  if (by_cl) {
    a_.jmp(done);
    a_.bind(zero);
    if (dst == Operand::kMem) store_mem(s, rsi, size, rax, stack);
    else store_gpr(d.reg, size, rax);
    a_.bind(done);
    flags_ = {};  // either path: known only as "whatever RFLAGS and the record say"
  }
  return Done::kNext;
}

// IMUL r, r/m and IMUL r, r/m, imm: the host's IMUL gives the truncated product and
// CF = OF = overflow; SF and PF come from the result, ZF and AF are 0.
BlockEmitter::Done BlockEmitter::emit_imul(const Site& s) {
  const GuestInsn& g = *s.g;
  const DecodedInsn& d = g.d;
  const unsigned size = d.size;
  const Operand dst = operand(g, 0), src = operand(g, 1), imm = operand(g, 2);
  if ((size != 2 && size != 4 && size != 8) || dst != Operand::kGpr ||
      (src != Operand::kGpr && src != Operand::kMem) ||
      (imm != Operand::kNone && imm != Operand::kImm) || operand(g, 3) != Operand::kNone) {
    return Done::kNo;
  }
  if (src == Operand::kMem) {
    const bool stack = effective_address(s, rsi);
    load_mem(s, rsi, size, rcx, stack);
  } else {
    load_gpr(rcx, d.rm, size);
  }
  if (imm == Operand::kImm) {
    a_.imul(sized(rax, size), sized(rcx, size), static_cast<int32_t>(d.imm));
  } else {
    load_gpr(rax, d.reg, size);
    a_.imul(sized(rax, size), sized(rcx, size));
  }
  a_.setc(dil);
  store_gpr(d.reg, size, rax);
  if (!flags_needed(s)) {
    flags_ = {};
    return Done::kNext;
  }
  a_.movzx(edi, dil);
  a_.imul(edi, edi, static_cast<int32_t>(kFlagCf | kFlagOf));
  result_flags(r9, rax, size, kFlagSf | kFlagPf);
  a_.or_(r9d, edi);
  set_arith_flags(r9);
  return Done::kNext;
}

// Register-only forms the emitters inline: killers write all six arithmetic flags without
// reading them, and can neither fault nor leave the block; transparent ones do not touch
// the flags and cannot leave either. Everything else (memory, handlers, readers,
// branches) may let the flags be seen.
BlockEmitter::FlagRole BlockEmitter::flag_role(const GuestInsn& g) {
  const DecodedInsn& d = g.d;
  const Operand a = operand(g, 0), b = operand(g, 1), c = operand(g, 2);
  const bool sized_ok = gpr_size(d.size);
  switch (g.z.mnemonic) {
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_TEST:
      if (sized_ok && a == Operand::kGpr && (b == Operand::kGpr || b == Operand::kImm) &&
          c == Operand::kNone) {
        return FlagRole::kKills;
      }
      return FlagRole::kOther;
    case ZYDIS_MNEMONIC_NEG:
      return sized_ok && a == Operand::kGpr && b == Operand::kNone ? FlagRole::kKills
                                                                   : FlagRole::kOther;
    case ZYDIS_MNEMONIC_SHL:
    case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR:
      if (sized_ok && a == Operand::kGpr && b == Operand::kImm && c == Operand::kNone &&
          (d.imm & (d.size == 8 ? 63 : 31)) != 0) {
        return FlagRole::kKills;
      }
      return FlagRole::kOther;
    case ZYDIS_MNEMONIC_IMUL:
      if ((d.size == 2 || d.size == 4 || d.size == 8) && a == Operand::kGpr &&
          b == Operand::kGpr && (c == Operand::kNone || c == Operand::kImm) &&
          operand(g, 3) == Operand::kNone) {
        return FlagRole::kKills;
      }
      return FlagRole::kOther;
    case ZYDIS_MNEMONIC_MOV:
      return sized_ok && a == Operand::kGpr && (b == Operand::kGpr || b == Operand::kImm) &&
                     c == Operand::kNone
                 ? FlagRole::kTransparent
                 : FlagRole::kOther;
    case ZYDIS_MNEMONIC_LEA:
      return a == Operand::kGpr && (d.size == 2 || d.size == 4 || d.size == 8)
                 ? FlagRole::kTransparent
                 : FlagRole::kOther;
    case ZYDIS_MNEMONIC_NOT:
      return sized_ok && a == Operand::kGpr && b == Operand::kNone ? FlagRole::kTransparent
                                                                   : FlagRole::kOther;
    case ZYDIS_MNEMONIC_NOP:
    case ZYDIS_MNEMONIC_ENDBR64:
      return FlagRole::kTransparent;
    default:
      return FlagRole::kOther;
  }
}

}  // namespace densevm::cpu::jit
