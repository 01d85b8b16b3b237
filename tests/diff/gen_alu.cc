// Two-operand arithmetic and logic (add adc sub sbb and or xor cmp test) and the unary group
// (inc dec neg not), in every size and register/memory/immediate form.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {

void gen_alu(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  static constexpr ZydisMnemonic kOps[] = {
      ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_SBB,
      ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_OR,  ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
      ZYDIS_MNEMONIC_TEST};
  for (ZydisMnemonic mn : kOps) {
    for (unsigned w : kWidths) {
      auto rr = [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w), s = b.reg(w);
        return b.emit(mn, {d, s});
      };
      repeat(rng, n, out, rr);
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w), s = b.reg(w);
        return b.emit(mn, {d, s});
      });
      if (mn != ZYDIS_MNEMONIC_TEST) {
        repeat(rng, n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          auto d = b.reg(w), s = b.mem(w);
          return b.emit(mn, {d, s});
        });
      }
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w);
        return b.emit(mn, {d, b.random_imm(w)});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {  // the short accumulator forms (04, 05, ...)
        b.random_status_flags();
        auto d = b.fixed_reg(kRax, w);
        if (!b.emit(mn, {d, b.random_imm(w)})) return false;
        b.c().label = std::string(ZydisMnemonicGetString(mn)) + " acc" + std::to_string(w) + ", imm";
        return true;
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        return b.emit(mn, {d, b.random_imm(w)});
      });
      repeat(rng, n / 2 + 1, out, [&](CaseBuilder& b) {  // same register twice: xor eax, eax
        b.random_status_flags();
        auto d = b.reg(w);
        if (!b.emit(mn, {d, d})) return false;
        b.c().label = std::string(ZydisMnemonicGetString(mn)) + " r" + std::to_string(w) + ", same";
        return true;
      });
    }
  }
}

void gen_unary(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG,
                           ZYDIS_MNEMONIC_NOT}) {
    for (unsigned w : kWidths) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w);
        return b.emit(mn, {d});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        return b.emit(mn, {d});
      });
    }
  }
}

}  // namespace densevm::diff
