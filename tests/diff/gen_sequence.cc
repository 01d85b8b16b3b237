// Multi-instruction sequences: random chains over a few shared registers (so results and
// flags feed each other; the flag mask follows the last writer of each flag) and
// hand-picked idioms that compilers emit (multiword add, counted loop, jump table, memcpy
// loop, division setup, min/max via cmov, function call with saved registers).
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

ZydisEncoderOperand r(unsigned index, unsigned width) {
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_REGISTER;
  op.reg.value = gpr_register(index, width);
  return op;
}

// One random instruction over registers rax, rcx, rdx, rbx, rsi (memory through rdi).
bool random_step(CaseBuilder& b) {
  static constexpr ZydisMnemonic kBinary[] = {
      ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SUB,  ZYDIS_MNEMONIC_SBB,
      ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_OR,  ZYDIS_MNEMONIC_XOR,  ZYDIS_MNEMONIC_CMP,
      ZYDIS_MNEMONIC_TEST, ZYDIS_MNEMONIC_MOV, ZYDIS_MNEMONIC_IMUL, ZYDIS_MNEMONIC_XCHG};
  static constexpr ZydisMnemonic kUnary[] = {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC,
                                             ZYDIS_MNEMONIC_NEG, ZYDIS_MNEMONIC_NOT};
  static constexpr ZydisMnemonic kShift[] = {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR,
                                             ZYDIS_MNEMONIC_SAR, ZYDIS_MNEMONIC_ROL,
                                             ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL,
                                             ZYDIS_MNEMONIC_RCR};
  static constexpr unsigned kRegs[] = {kRax, kRcx, kRdx, kRbx, kRsi};
  Rng& rng = b.rng();
  const unsigned w = rng.chance(50) ? 64 : kWidths[rng.below(4)];
  const ZydisEncoderOperand a = r(kRegs[rng.below(5)], w), c = r(kRegs[rng.below(5)], w);
  ZydisEncoderOperand m{};
  m.type = ZYDIS_OPERAND_TYPE_MEMORY;
  m.mem.base = ZYDIS_REGISTER_RDI;
  m.mem.displacement = static_cast<int64_t>(8 * rng.below(32));
  m.mem.size = static_cast<ZyanU16>(w / 8);
  switch (rng.below(6)) {
    case 0: case 1: {
      const ZydisMnemonic mn = kBinary[rng.below(std::size(kBinary))];
      if (mn == ZYDIS_MNEMONIC_IMUL && w == 8) return b.emit(ZYDIS_MNEMONIC_ADD, {a, c});
      return b.emit(mn, {a, rng.chance(25) && mn != ZYDIS_MNEMONIC_IMUL ? b.random_imm(w) : c});
    }
    case 2: return b.emit(kBinary[rng.below(8)], {rng.chance(50) ? m : a, rng.chance(50) ? c : b.random_imm(w)});
    case 3: return b.emit(kUnary[rng.below(4)], {a});
    case 4: return b.emit(kShift[rng.below(7)], {a, CaseBuilder::imm(1 + rng.below(w - 1))});
    default: {
      if (rng.chance(50)) return b.emit(kSetcc[rng.below(16)], {r(kRegs[rng.below(5)], 8)});
      const unsigned cw = kWideWidths[rng.below(3)];
      return b.emit(kCmovcc[rng.below(16)], {r(kRegs[rng.below(5)], cw), r(kRegs[rng.below(5)], cw)});
    }
  }
}

void idioms(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  auto add = [&](const char* label, std::vector<uint8_t> code, auto setup) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.random_status_flags();
      for (unsigned i : {kRax, kRcx, kRdx, kRbx, kRsi, kRdi, kR8, kR9}) b.fixed_reg(i, 64);
      b.c().label = label;
      b.c().code = code;
      setup(b);
      return true;
    });
  };
  // 128-bit add: add rax, r8; adc rdx, r9; setc bl
  add("multiword add", {0x4C, 0x01, 0xC0, 0x4C, 0x11, 0xCA, 0x0F, 0x92, 0xC3}, [](CaseBuilder&) {});
  // counted loop: L: add rax, rbx; rol rbx, 7; dec ecx; jnz L
  add("counted loop", {0x48, 0x01, 0xD8, 0x48, 0xC1, 0xC3, 0x07, 0xFF, 0xC9, 0x75, 0xF5},
      [](CaseBuilder& b) { b.set(kRcx, 1 + b.rng().below(40)); });
  // memcpy loop: L: mov al, [rsi]; mov [rdi], al; inc rsi; inc rdi; dec rcx; jnz L
  add("byte copy loop", {0x8A, 0x06, 0x88, 0x07, 0x48, 0xFF, 0xC6, 0x48, 0xFF, 0xC7, 0x48, 0xFF,
                         0xC9, 0x75, 0xF1},
      [](CaseBuilder& b) {
        b.set(kRcx, 1 + b.rng().below(64));
        b.set(kRsi, kDataBase + 0x2000 + b.rng().below(64));
        b.set(kRdi, kDataBase + 0x4000 + b.rng().below(64));
      });
  // signed division: mov rax, rsi; cqo; idiv r8 (r8 never 0 or -1 with rax = INT_MIN)
  add("cqo; idiv", {0x48, 0x89, 0xF0, 0x48, 0x99, 0x49, 0xF7, 0xF8}, [](CaseBuilder& b) {
    b.set(kRsi, b.rng().next() >> 1);
    b.set(kR8, (b.rng().next() >> 8) | 1);
  });
  // min/max: cmp rax, rbx; cmovg rax, rbx; cmovb rcx, rdx
  add("cmp; cmov min", {0x48, 0x39, 0xD8, 0x48, 0x0F, 0x4F, 0xC3, 0x48, 0x0F, 0x42, 0xCA},
      [](CaseBuilder&) {});
  // lowest set bit, clear it: mov rcx, rax; neg rcx; and rcx, rax; xor rax, rcx
  add("isolate lowest bit", {0x48, 0x89, 0xC1, 0x48, 0xF7, 0xD9, 0x48, 0x21, 0xC1, 0x48, 0x31,
                             0xC8},
      [](CaseBuilder&) {});
  // jump table: lea rdx, [rip+table]; jmp [rdx+rcx*8]; table of 4 targets; each target:
  // mov eax, i; (falls to the end via a short jmp)
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.c().label = "jump table";
    b.claim(kRcx);
    b.fixed_reg(kRax, 64);
    const uint64_t choice = b.rng().below(4);
    b.set(kRcx, choice);
    b.claim(kRdx);
    const uint64_t table = kDataBase + 0x3000;
    b.set(kRdx, table);
    b.raw({0xFF, 0x24, 0xCA});  // jmp [rdx+rcx*8]
    const uint64_t first = b.here();
    for (unsigned i = 0; i < 4; ++i) {  // target i: mov eax, i; jmp end (7 bytes each)
      b.patch(0x3000 + 8 * i, first + 7 * i, 8);
      b.raw({0xB8, static_cast<uint8_t>(i), 0, 0, 0, 0xEB, static_cast<uint8_t>(7 * (3 - i))});
    }
    return true;
  });
  // call with callee-saved registers: call f; jmp end; f: push rbx; push rbp; mov rbx, rax;
  // lea rbp, [rbx+rbx*2]; add rax, rbp; pop rbp; pop rbx; ret
  add("call; push/pop; ret",
      {0xE8, 0x02, 0x00, 0x00, 0x00, 0xEB, 0x0F, 0x53, 0x55, 0x48, 0x89, 0xC3, 0x48, 0x8D, 0x2C,
       0x5B, 0x48, 0x01, 0xE8, 0x5D, 0x5B, 0xC3},
      [](CaseBuilder&) {});
}

}  // namespace

void gen_sequence(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  repeat(rng, 20 * n, out, [&](CaseBuilder& b) {
    b.random_status_flags();
    for (unsigned i : {kRax, kRcx, kRdx, kRbx, kRsi}) b.fixed_reg(i, 64);
    b.claim(kRdi);
    b.set(kRdi, kDataBase + 0x5000);
    const size_t length = 4 + b.rng().below(9);
    for (size_t i = 0; i < length; ++i) {
      if (!random_step(b)) return false;
    }
    b.c().label = "random sequence";
    return true;
  });
  idioms(rng, n, out);
}

}  // namespace densevm::diff
