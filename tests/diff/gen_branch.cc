// Control transfer: all 16 jcc as short and near forward jumps over a marker instruction
// (taken or not shows in the marker register), jmp/call relative, through a register and
// through memory, ret and ret imm16.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

// `mov marker, imm32`: changes the marker register only if executed.
std::vector<uint8_t> marker(CaseBuilder& b, unsigned marker_reg, uint64_t at) {
  ZydisEncoderOperand r{};
  r.type = ZYDIS_OPERAND_TYPE_REGISTER;
  r.reg.value = gpr_register(marker_reg, 32);
  return CaseBuilder::encode(at, ZYDIS_MNEMONIC_MOV,
                             {r, CaseBuilder::imm(0x11223344 ^ b.rng().below(0x1000))});
}

bool jump_over_marker(CaseBuilder& b, ZydisMnemonic mn, ZydisBranchWidth width) {
  const unsigned m = ZydisRegisterGetId(b.reg(64).reg.value);
  const size_t jump_length = width == ZYDIS_BRANCH_WIDTH_8 ? 2 : mn == ZYDIS_MNEMONIC_JMP ? 5 : 6;
  const std::vector<uint8_t> mark = marker(b, m, b.here() + jump_length);
  if (mark.empty()) return false;
  const uint64_t target = b.here() + jump_length + mark.size();
  if (!b.emit(mn, {CaseBuilder::imm(target)}, 0, width)) return false;
  if (b.c().code.size() != jump_length) return false;
  b.c().label += width == ZYDIS_BRANCH_WIDTH_8 ? " rel8" : " rel32";
  b.c().code.insert(b.c().code.end(), mark.begin(), mark.end());
  return true;
}

}  // namespace

void gen_branch(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : kJcc) {
    for (ZydisBranchWidth width : {ZYDIS_BRANCH_WIDTH_8, ZYDIS_BRANCH_WIDTH_32}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        return jump_over_marker(b, mn, width);
      });
    }
  }
  for (ZydisBranchWidth width : {ZYDIS_BRANCH_WIDTH_8, ZYDIS_BRANCH_WIDTH_32}) {
    repeat(rng, n, out, [&](CaseBuilder& b) { return jump_over_marker(b, ZYDIS_MNEMONIC_JMP, width); });
  }
  // jmp reg / jmp [mem]: the target skips an 8-byte filler of int3.
  for (bool memory : {false, true}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      ZydisEncoderOperand t = memory ? b.mem(64) : b.reg(64);
      const std::vector<uint8_t> probe = CaseBuilder::encode(b.here(), ZYDIS_MNEMONIC_JMP, {t});
      if (probe.empty()) return false;
      const uint64_t target = b.here() + probe.size() + 8;
      b.override_last(target);
      if (!b.emit(ZYDIS_MNEMONIC_JMP, {t})) return false;
      b.raw({0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC, 0xCC});
      return true;
    });
  }
  // call rel32 / reg / [mem] to a subroutine after the main line:
  //   call sub; jmp end; sub: mov marker, imm; ret [imm16]; end:
  for (int kind = 0; kind < 4; ++kind) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      const uint16_t pop = kind == 3 ? static_cast<uint16_t>(8 * b.rng().below(4)) : 0;
      const unsigned m = ZydisRegisterGetId(b.reg(64).reg.value);
      ZydisEncoderOperand t = kind == 1 ? b.reg(64) : kind == 2 ? b.mem(64) : CaseBuilder::imm(0);
      const size_t call_length =
          kind == 1 || kind == 2
              ? CaseBuilder::encode(b.here(), ZYDIS_MNEMONIC_CALL, {t}).size()
              : 5;
      const uint64_t sub = b.here() + call_length + 2;
      if (kind == 0 || kind == 3) t = CaseBuilder::imm(sub);
      else b.override_last(sub);
      if (!b.emit(ZYDIS_MNEMONIC_CALL, {t})) return false;
      const std::vector<uint8_t> mark = marker(b, m, sub);
      const size_t ret_length = pop ? 3 : 1;
      b.raw({0xEB, static_cast<uint8_t>(mark.size() + ret_length)});  // jmp end
      b.c().code.insert(b.c().code.end(), mark.begin(), mark.end());
      if (pop) {
        b.raw({0xC2, static_cast<uint8_t>(pop), 0});
        b.c().label = "call rel32; ret imm16";
      } else {
        b.raw({0xC3});
      }
      return b.here() == sub + mark.size() + ret_length;
    });
  }
}

}  // namespace densevm::diff
