// String instructions (movs stos lods cmps scas) in byte/word/dword/qword sizes, without
// and with rep/repe/repne, with DF=0 and DF=1. Counts stay small; the buffers around rsi
// and rdi hold runs of equal elements so repe/repne stop early as often as not.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

enum class Rep { kNone, kRep, kRepe, kRepne };

struct StringOp {
  const char* name;
  uint8_t opcode;  // byte form; +1 for the wider forms
  bool compares;
};

constexpr StringOp kOps[] = {{"movs", 0xA4, false}, {"stos", 0xAA, false}, {"lods", 0xAC, false},
                             {"cmps", 0xA6, true},  {"scas", 0xAE, true}};

constexpr uint32_t kSourceBuf = 0x3000, kDestBuf = 0x8000;

// Fills both buffers (around their centres, both directions) with elements drawn from a
// tiny alphabet, so equal and unequal pairs alternate.
void fill_buffers(CaseBuilder& b, unsigned size) {
  for (uint32_t base : {kSourceBuf, kDestBuf}) {
    for (uint32_t off = base - 0x400; off < base + 0x400; off += 8) {
      uint64_t v = 0;
      for (unsigned i = 0; i < 8; i += size) v |= (b.rng().below(3) * 0x0101010101010101 & mask_of(8 * size)) << (8 * i);
      b.patch(off, v, 8);
    }
  }
}

}  // namespace

void gen_string(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  static constexpr const char* kSuffix[] = {"b", "w", "d", "q"};
  for (const StringOp& op : kOps) {
    for (unsigned s = 0; s < 4; ++s) {
      const unsigned size = 1u << s;
      for (Rep rep : {Rep::kNone, Rep::kRep, Rep::kRepe, Rep::kRepne}) {
        if (op.compares != (rep == Rep::kRepe || rep == Rep::kRepne) && rep != Rep::kNone) continue;
        for (bool down : {false, true}) {
          repeat(rng, n, out, [&](CaseBuilder& b) {
            b.random_status_flags();
            if (down) b.c().in.rflags |= kFlagDf;
            for (unsigned r : {kRax, kRcx, kRsi, kRdi}) b.fixed_reg(r, 64);
            fill_buffers(b, size);
            b.set(kRsi, kDataBase + kSourceBuf + size * b.rng().below(8));
            b.set(kRdi, kDataBase + kDestBuf + size * b.rng().below(8));
            const uint64_t count = b.rng().chance(10) ? 0 : b.rng().below(48);
            b.set(kRcx, rep == Rep::kNone ? b.c().in.gpr[kRcx] : count);
            if (op.compares && b.rng().chance(70)) {  // an accumulator value from the alphabet
              b.set(kRax, (b.c().in.gpr[kRax] & ~mask_of(8 * size)) |
                              (b.rng().below(3) * 0x0101010101010101 & mask_of(8 * size)));
            }
            std::string label;
            if (rep == Rep::kRep) { b.raw({0xF3}); label = "rep "; }
            if (rep == Rep::kRepe) { b.raw({0xF3}); label = "repe "; }
            if (rep == Rep::kRepne) { b.raw({0xF2}); label = "repne "; }
            if (size == 2) b.raw({0x66});
            if (size == 8) b.raw({0x48});
            b.raw({static_cast<uint8_t>(op.opcode + (size > 1 ? 1 : 0))});
            b.c().label = label + op.name + kSuffix[s] + (down ? " (DF=1)" : " (DF=0)");
            return true;
          });
        }
      }
    }
  }
}

}  // namespace densevm::diff
