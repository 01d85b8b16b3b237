// Flag instructions (clc stc cmc cld std sahf lahf) and the nop family, including the
// multi-byte nops compilers use for alignment.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {

void gen_flag_ops(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_CLC, ZYDIS_MNEMONIC_STC, ZYDIS_MNEMONIC_CMC,
                           ZYDIS_MNEMONIC_CLD, ZYDIS_MNEMONIC_STD, ZYDIS_MNEMONIC_SAHF,
                           ZYDIS_MNEMONIC_LAHF}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.random_status_flags();
      if (b.rng().chance(50)) b.c().in.rflags |= kFlagDf;
      b.fixed_reg(kRax, 64);
      return b.emit(mn, {});
    });
  }
  struct Nop { const char* label; std::vector<uint8_t> bytes; };
  const Nop nops[] = {
      {"nop", {0x90}},
      {"xchg ax, ax (66 90)", {0x66, 0x90}},
      {"nop dword [rax]", {0x0F, 0x1F, 0x00}},
      {"nop dword [rax+0]", {0x0F, 0x1F, 0x40, 0x00}},
      {"nop dword [rax+rax+0]", {0x0F, 0x1F, 0x44, 0x00, 0x00}},
      {"nop word [rax+rax+0]", {0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00}},
      {"nop dword [rax+0] disp32", {0x0F, 0x1F, 0x80, 0, 0, 0, 0}},
      {"nop dword [rax+rax+0] disp32", {0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0}},
      {"nop word cs:[rax+rax+0]", {0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0}},
      {"data16 nop word cs:[rax+rax+0]", {0x66, 0x66, 0x2E, 0x0F, 0x1F, 0x84, 0x00, 0, 0, 0, 0}},
      {"pause (F3 90)", {0xF3, 0x90}},
  };
  for (const Nop& nop : nops) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.random_status_flags();
      b.c().label = nop.label;
      b.c().code = nop.bytes;
      return true;
    });
  }
}

}  // namespace densevm::diff
