// Shifts and rotates by 1, imm8 and CL in every size, and shld/shrd.
//
// Flag rules (SDM Vol. 2B, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD): a masked count of
// 0 changes no flag; OF is defined only for a masked count of 1; SHL/SHR leave CF undefined
// when the count reaches the operand width; shld/shrd with a count above the (16-bit) width
// leave result and flags undefined, so those counts are not generated.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

uint8_t pick_count(Rng& rng, unsigned w) {
  const unsigned counts[] = {0, 1, 2, w - 1, w, w + 1, 31, 32, 33, 63, 64, 65, 255};
  if (rng.chance(60)) return static_cast<uint8_t>(counts[rng.below(std::size(counts))]);
  return static_cast<uint8_t>(rng.next());
}

void set_count_flags(DiffCase& c, ZydisMnemonic mn, unsigned w, uint8_t count) {
  const unsigned masked = count & (w == 64 ? 63 : 31);
  if (masked == 0) c.defined_flags = kComparedFlags;
  if (masked == 1) c.defined_flags = kFlagOf;
  if ((mn == ZYDIS_MNEMONIC_SHL || mn == ZYDIS_MNEMONIC_SHR) && masked >= w) {
    c.undefined_flags |= kFlagCf;
  }
}

enum class CountForm { kOne, kImm, kCl };

}  // namespace

void gen_shift(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  static constexpr ZydisMnemonic kOps[] = {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR,
                                           ZYDIS_MNEMONIC_SAR, ZYDIS_MNEMONIC_ROL,
                                           ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL,
                                           ZYDIS_MNEMONIC_RCR};
  for (ZydisMnemonic mn : kOps) {
    for (unsigned w : kWidths) {
      for (CountForm form : {CountForm::kOne, CountForm::kImm, CountForm::kCl}) {
        for (bool memory : {false, true}) {
          repeat(rng, n, out, [&](CaseBuilder& b) {
            b.random_status_flags();
            ZydisEncoderOperand count_op;
            uint8_t count = 1;
            if (form == CountForm::kCl) {
              count_op = b.fixed_reg(kRcx, 8);
              count = pick_count(b.rng(), w);
              b.set(kRcx, (b.rng().next() & ~uint64_t{0xFF}) | count);
            } else {
              if (form == CountForm::kImm) count = pick_count(b.rng(), w);
              count_op = CaseBuilder::imm(count);
            }
            auto d = memory ? b.mem(w) : b.reg(w);
            if (!b.emit(mn, {d, count_op})) return false;
            if (form == CountForm::kOne) b.c().label += " (1)";
            set_count_flags(b.c(), mn, w, count);
            return true;
          });
        }
      }
    }
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_SHLD, ZYDIS_MNEMONIC_SHRD}) {
    for (unsigned w : kWideWidths) {
      for (bool by_cl : {false, true}) {
        for (bool memory : {false, true}) {
          repeat(rng, n, out, [&](CaseBuilder& b) {
            b.random_status_flags();
            uint8_t count = pick_count(b.rng(), w);
            if (w == 16 && (count & 31) > 16) count &= 15;
            ZydisEncoderOperand count_op = CaseBuilder::imm(count);
            if (by_cl) {
              count_op = b.fixed_reg(kRcx, 8);
              b.set(kRcx, (b.rng().next() & ~uint64_t{0xFF}) | count);
            }
            auto d = memory ? b.mem(w) : b.reg(w);
            auto s = b.reg(w);
            if (!b.emit(mn, {d, s, count_op})) return false;
            const unsigned masked = count & (w == 64 ? 63 : 31);
            if (masked == 0) b.c().defined_flags = kComparedFlags;
            if (masked == 1) b.c().defined_flags = kFlagOf;
            return true;
          });
        }
      }
    }
  }
}

}  // namespace densevm::diff
