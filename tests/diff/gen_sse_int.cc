// SSE2 packed integer arithmetic, comparisons, logic (also ANDPS..XORPD), unpacks, packs,
// shuffles (every imm8) and shifts (by XMM/m128 counts up to past the lane width, and by
// imm8), register and aligned-memory forms, and the same register twice (PXOR xmm0, xmm0).
#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

Bytes16 ints(Rng& rng) { return edge_lanes(rng, rng.chance(70) ? Lanes::kIntegers : Lanes::kRandom); }

constexpr ZydisMnemonic kBinary[] = {
    ZYDIS_MNEMONIC_PADDB,     ZYDIS_MNEMONIC_PADDW,     ZYDIS_MNEMONIC_PADDD,
    ZYDIS_MNEMONIC_PADDQ,     ZYDIS_MNEMONIC_PSUBB,     ZYDIS_MNEMONIC_PSUBW,
    ZYDIS_MNEMONIC_PSUBD,     ZYDIS_MNEMONIC_PSUBQ,     ZYDIS_MNEMONIC_PADDSB,
    ZYDIS_MNEMONIC_PADDSW,    ZYDIS_MNEMONIC_PADDUSB,   ZYDIS_MNEMONIC_PADDUSW,
    ZYDIS_MNEMONIC_PSUBSB,    ZYDIS_MNEMONIC_PSUBSW,    ZYDIS_MNEMONIC_PSUBUSB,
    ZYDIS_MNEMONIC_PSUBUSW,   ZYDIS_MNEMONIC_PMULLW,    ZYDIS_MNEMONIC_PMULHW,
    ZYDIS_MNEMONIC_PMULHUW,   ZYDIS_MNEMONIC_PMULUDQ,   ZYDIS_MNEMONIC_PMADDWD,
    ZYDIS_MNEMONIC_PSADBW,    ZYDIS_MNEMONIC_PAVGB,     ZYDIS_MNEMONIC_PAVGW,
    ZYDIS_MNEMONIC_PMINUB,    ZYDIS_MNEMONIC_PMAXUB,    ZYDIS_MNEMONIC_PMINSW,
    ZYDIS_MNEMONIC_PMAXSW,    ZYDIS_MNEMONIC_PCMPEQB,   ZYDIS_MNEMONIC_PCMPEQW,
    ZYDIS_MNEMONIC_PCMPEQD,   ZYDIS_MNEMONIC_PCMPGTB,   ZYDIS_MNEMONIC_PCMPGTW,
    ZYDIS_MNEMONIC_PCMPGTD,   ZYDIS_MNEMONIC_PAND,      ZYDIS_MNEMONIC_PANDN,
    ZYDIS_MNEMONIC_POR,       ZYDIS_MNEMONIC_PXOR,      ZYDIS_MNEMONIC_ANDPS,
    ZYDIS_MNEMONIC_ANDNPS,    ZYDIS_MNEMONIC_ORPS,      ZYDIS_MNEMONIC_XORPS,
    ZYDIS_MNEMONIC_ANDPD,     ZYDIS_MNEMONIC_ANDNPD,    ZYDIS_MNEMONIC_ORPD,
    ZYDIS_MNEMONIC_XORPD,     ZYDIS_MNEMONIC_PUNPCKLBW, ZYDIS_MNEMONIC_PUNPCKLWD,
    ZYDIS_MNEMONIC_PUNPCKLDQ, ZYDIS_MNEMONIC_PUNPCKLQDQ, ZYDIS_MNEMONIC_PUNPCKHBW,
    ZYDIS_MNEMONIC_PUNPCKHWD, ZYDIS_MNEMONIC_PUNPCKHDQ, ZYDIS_MNEMONIC_PUNPCKHQDQ,
    ZYDIS_MNEMONIC_UNPCKLPS,  ZYDIS_MNEMONIC_UNPCKHPS,  ZYDIS_MNEMONIC_UNPCKLPD,
    ZYDIS_MNEMONIC_UNPCKHPD,  ZYDIS_MNEMONIC_PACKSSWB,  ZYDIS_MNEMONIC_PACKSSDW,
    ZYDIS_MNEMONIC_PACKUSWB};

constexpr ZydisMnemonic kShuffles[] = {ZYDIS_MNEMONIC_PSHUFD, ZYDIS_MNEMONIC_PSHUFLW,
                                       ZYDIS_MNEMONIC_PSHUFHW, ZYDIS_MNEMONIC_SHUFPS,
                                       ZYDIS_MNEMONIC_SHUFPD};

constexpr ZydisMnemonic kShifts[] = {ZYDIS_MNEMONIC_PSLLW, ZYDIS_MNEMONIC_PSLLD, ZYDIS_MNEMONIC_PSLLQ,
                                     ZYDIS_MNEMONIC_PSRLW, ZYDIS_MNEMONIC_PSRLD, ZYDIS_MNEMONIC_PSRLQ,
                                     ZYDIS_MNEMONIC_PSRAW, ZYDIS_MNEMONIC_PSRAD};

// A shift count: mostly within or just past a lane, sometimes with high bits set.
Bytes16 count(Rng& rng) {
  Bytes16 c = edge_lanes(rng, Lanes::kRandom);
  uint64_t low = rng.below(80);
  if (rng.chance(15)) low |= rng.next() << 8;
  std::memcpy(c.data(), &low, 8);
  return c;
}

uint64_t count_imm(Rng& rng) { return rng.chance(70) ? rng.below(70) : rng.below(256); }

}  // namespace

void gen_sse_integer(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : kBinary) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(ints(b.rng())), s = b.xmm(ints(b.rng())); return b.emit(mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(ints(b.rng())); return b.emit(mn, {d, b.mem_holding(ints(b.rng()), 16)}); });
    repeat(rng, n / 4 + 1, out, [&](CaseBuilder& b) {
      auto d = b.xmm(ints(b.rng()));
      if (!b.emit(mn, {d, d})) return false;
      b.c().label = std::string(ZydisMnemonicGetString(mn)) + " xmm, same";
      return true;
    });
  }
  for (ZydisMnemonic mn : kShuffles) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(ints(b.rng())), s = b.xmm(ints(b.rng()));
      return b.emit(mn, {d, s, CaseBuilder::imm(b.rng().below(256))});
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(ints(b.rng()));
      return b.emit(mn, {d, b.mem_holding(ints(b.rng()), 16), CaseBuilder::imm(b.rng().below(256))});
    });
  }
  for (ZydisMnemonic mn : kShifts) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(ints(b.rng())), s = b.xmm(count(b.rng())); return b.emit(mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(ints(b.rng())); return b.emit(mn, {d, b.mem_holding(count(b.rng()), 16)}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(ints(b.rng())); return b.emit(mn, {d, CaseBuilder::imm(count_imm(b.rng()))}); });
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_PSLLDQ, ZYDIS_MNEMONIC_PSRLDQ}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(ints(b.rng()));
      return b.emit(mn, {d, CaseBuilder::imm(b.rng().chance(80) ? b.rng().below(18) : b.rng().below(256))});
    });
  }
}

}  // namespace densevm::diff
