// xchg with memory, cmpxchg (equal and unequal, with and without lock), xadd, and
// lock-prefixed read-modify-write instructions on memory.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {

void gen_atomic(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned w : kWidths) {
    for (bool lock : {false, true}) {
      const ZydisInstructionAttributes prefix = lock ? ZYDIS_ATTRIB_HAS_LOCK : 0;
      for (bool memory : {false, true}) {
        if (lock && !memory) continue;
        repeat(rng, 2 * n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          auto acc = b.fixed_reg(kRax, 64);
          (void)acc;
          auto d = memory ? b.mem(w) : b.reg(w);
          const uint64_t dest = b.last_value();
          auto s = b.reg(w);
          if (b.rng().chance(50)) {  // equal: the store happens
            b.set(kRax, (b.c().in.gpr[kRax] & ~mask_of(w)) | (dest & mask_of(w)));
          }
          return b.emit(ZYDIS_MNEMONIC_CMPXCHG, {d, s}, prefix);
        });
        repeat(rng, n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          auto d = memory ? b.mem(w) : b.reg(w);
          auto s = b.reg(w);
          return b.emit(ZYDIS_MNEMONIC_XADD, {d, s}, prefix);
        });
      }
    }
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.mem(w);
      auto s = b.reg(w);
      return b.emit(ZYDIS_MNEMONIC_XCHG, {d, s}, ZYDIS_ATTRIB_HAS_LOCK);
    });
    for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_OR, ZYDIS_MNEMONIC_ADC,
                             ZYDIS_MNEMONIC_SBB, ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_SUB,
                             ZYDIS_MNEMONIC_XOR}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        auto s = b.reg(w);
        return b.emit(mn, {d, s}, ZYDIS_ATTRIB_HAS_LOCK);
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        return b.emit(mn, {d, b.random_imm(w)}, ZYDIS_ATTRIB_HAS_LOCK);
      });
    }
    for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC, ZYDIS_MNEMONIC_NEG,
                             ZYDIS_MNEMONIC_NOT}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        return b.emit(mn, {b.mem(w)}, ZYDIS_ATTRIB_HAS_LOCK);
      });
    }
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR, ZYDIS_MNEMONIC_BTC}) {
    for (unsigned w : kWideWidths) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        return b.emit(mn, {d, CaseBuilder::imm(b.rng().below(w))}, ZYDIS_ATTRIB_HAS_LOCK);
      });
    }
  }
}

}  // namespace densevm::diff
