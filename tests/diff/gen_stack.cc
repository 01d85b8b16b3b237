// push/pop of registers (rsp included), immediates and memory (rsp-based too), leave,
// pushfq/popfq with user-modifiable flags.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

ZydisEncoderOperand stack_mem(CaseBuilder& b, int32_t disp) {
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.base = ZYDIS_REGISTER_RSP;
  op.mem.displacement = disp;
  op.mem.size = 8;
  b.patch(static_cast<uint32_t>(kStackTop - kDataBase + static_cast<uint64_t>(disp)), b.rng().next(), 8);
  return op;
}

ZydisEncoderOperand reg_op(unsigned index) {
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_REGISTER;
  op.reg.value = gpr_register(index, 64);
  return op;
}

}  // namespace

void gen_stack(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned r = 0; r < kGprCount; ++r) {
    repeat(rng, n, out, [&](CaseBuilder& b) { b.fixed_reg(r, 64); b.set(kRsp, kStackTop); return b.emit(ZYDIS_MNEMONIC_PUSH, {reg_op(r)}); });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.fixed_reg(r, 64);
      b.set(kRsp, kStackTop);
      b.patch(kStackTop - kDataBase, b.rng().next(), 8);
      return b.emit(ZYDIS_MNEMONIC_POP, {reg_op(r)});
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) { return b.emit(ZYDIS_MNEMONIC_PUSH, {b.random_imm(32)}); });
  repeat(rng, n, out, [&](CaseBuilder& b) { return b.emit(ZYDIS_MNEMONIC_PUSH, {b.mem(64)}); });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.patch(kStackTop - kDataBase, b.rng().next(), 8);
    return b.emit(ZYDIS_MNEMONIC_POP, {b.mem(64)});
  });
  // rsp-based operands: push [rsp+d] reads before the decrement; pop [rsp+d] computes the
  // address after the increment (SDM Vol. 2B POP).
  repeat(rng, n, out, [&](CaseBuilder& b) {
    if (!b.emit(ZYDIS_MNEMONIC_PUSH, {stack_mem(b, static_cast<int32_t>(8 * b.rng().below(4)))})) return false;
    b.c().label = "push [rsp+d]";
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.patch(kStackTop - kDataBase, b.rng().next(), 8);
    if (!b.emit(ZYDIS_MNEMONIC_POP, {stack_mem(b, static_cast<int32_t>(8 * b.rng().below(4)))})) return false;
    b.c().label = "pop [rsp+d]";
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {  // leave: rsp = rbp; pop rbp
    b.claim(kRbp);
    const uint64_t frame = kStackTop - 8 * (1 + b.rng().below(16));
    b.set(kRbp, frame);
    b.patch(static_cast<uint32_t>(frame - kDataBase), b.rng().next(), 8);
    return b.emit(ZYDIS_MNEMONIC_LEAVE, {});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.random_status_flags();
    if (b.rng().chance(30)) b.c().in.rflags |= kFlagDf;
    return b.emit(ZYDIS_MNEMONIC_PUSHFQ, {});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.random_status_flags();
    const uint64_t user_flags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;
    b.patch(kStackTop - kDataBase, kRflagsFixed | (b.rng().next() & user_flags), 8);
    return b.emit(ZYDIS_MNEMONIC_POPFQ, {});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {  // popfq; pushfq: what the flags register kept
    b.random_status_flags();
    const uint64_t user_flags = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;
    b.patch(kStackTop - kDataBase, kRflagsFixed | (b.rng().next() & user_flags), 8);
    if (!b.emit(ZYDIS_MNEMONIC_POPFQ, {})) return false;
    b.c().label = "popfq; pushfq";
    return b.emit(ZYDIS_MNEMONIC_PUSHFQ, {});
  });
}

}  // namespace densevm::diff
