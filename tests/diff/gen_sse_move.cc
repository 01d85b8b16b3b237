// SSE/SSE2 data movement: whole-register moves (aligned, unaligned, non-temporal), MOVD
// MOVQ MOVSS MOVSD, half moves, MOVNTI, PMOVMSKB MOVMSKPS MOVMSKPD, PEXTRW PINSRW,
// MASKMOVDQU, LDMXCSR STMXCSR; every register and memory form.
#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

Bytes16 any(Rng& rng) { return edge_lanes(rng, rng.chance(50) ? Lanes::kIntegers : Lanes::kRandom); }

std::vector<uint8_t> head(const Bytes16& b, size_t n) { return {b.begin(), b.begin() + n}; }

void gen_whole(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  struct { ZydisMnemonic mn; bool aligned; } const kMoves[] = {
      {ZYDIS_MNEMONIC_MOVAPS, true},  {ZYDIS_MNEMONIC_MOVAPD, true},  {ZYDIS_MNEMONIC_MOVDQA, true},
      {ZYDIS_MNEMONIC_MOVUPS, false}, {ZYDIS_MNEMONIC_MOVUPD, false}, {ZYDIS_MNEMONIC_MOVDQU, false}};
  for (const auto& m : kMoves) {
    const unsigned align = m.aligned ? 16 : 1;
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(any(b.rng())), s = b.xmm(any(b.rng())); return b.emit(m.mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(any(b.rng()));
      const Bytes16 v = any(b.rng());
      return b.emit(m.mn, {d, b.mem_holding(v, align)});
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      const Bytes16 v = any(b.rng());
      auto d = b.mem_holding(v, align);
      return b.emit(m.mn, {d, b.xmm(any(b.rng()))});
    });
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVNTDQ, ZYDIS_MNEMONIC_MOVNTPS, ZYDIS_MNEMONIC_MOVNTPD}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      const Bytes16 v = any(b.rng());
      auto d = b.mem_holding(v, 16);
      return b.emit(mn, {d, b.xmm(any(b.rng()))});
    });
  }
  for (unsigned w : {32u, 64u}) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.mem(w), s = b.reg(w); return b.emit(ZYDIS_MNEMONIC_MOVNTI, {d, s}); });
  }
}

void gen_low(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned w : {32u, 64u}) {
    const ZydisMnemonic mn = w == 32 ? ZYDIS_MNEMONIC_MOVD : ZYDIS_MNEMONIC_MOVQ;
    const size_t bytes = w / 8;
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(any(b.rng())), s = b.reg(w); return b.emit(mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w), s = b.xmm(any(b.rng())); return b.emit(mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(any(b.rng()));
      return b.emit(mn, {d, b.mem_holding(head(any(b.rng()), bytes), 1)});
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.mem_holding(head(any(b.rng()), bytes), 1);
      return b.emit(mn, {d, b.xmm(any(b.rng()))});
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(any(b.rng())), s = b.xmm(any(b.rng())); return b.emit(ZYDIS_MNEMONIC_MOVQ, {d, s}); });
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVSS, ZYDIS_MNEMONIC_MOVSD}) {
    const size_t bytes = mn == ZYDIS_MNEMONIC_MOVSS ? 4 : 8;
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(any(b.rng())), s = b.xmm(any(b.rng())); return b.emit(mn, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(any(b.rng()));
      return b.emit(mn, {d, b.mem_holding(head(any(b.rng()), bytes), 1)});
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.mem_holding(head(any(b.rng()), bytes), 1);
      return b.emit(mn, {d, b.xmm(any(b.rng()))});
    });
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVLPS, ZYDIS_MNEMONIC_MOVLPD, ZYDIS_MNEMONIC_MOVHPS,
                           ZYDIS_MNEMONIC_MOVHPD}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(any(b.rng()));
      return b.emit(mn, {d, b.mem_holding(head(any(b.rng()), 8), 1)});
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.mem_holding(head(any(b.rng()), 8), 1);
      return b.emit(mn, {d, b.xmm(any(b.rng()))});
    });
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVHLPS, ZYDIS_MNEMONIC_MOVLHPS}) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.xmm(any(b.rng())), s = b.xmm(any(b.rng())); return b.emit(mn, {d, s}); });
  }
}

void gen_extract(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_PMOVMSKB, ZYDIS_MNEMONIC_MOVMSKPS, ZYDIS_MNEMONIC_MOVMSKPD}) {
    for (unsigned w : {32u, 64u}) {
      repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w), s = b.xmm(any(b.rng())); return b.emit(mn, {d, s}); });
    }
  }
  for (unsigned w : {32u, 64u}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.reg(w), s = b.xmm(any(b.rng()));
      return b.emit(ZYDIS_MNEMONIC_PEXTRW, {d, s, CaseBuilder::imm(b.rng().below(256))});
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {
    auto d = b.xmm(any(b.rng())), s = b.reg(32);
    return b.emit(ZYDIS_MNEMONIC_PINSRW, {d, s, CaseBuilder::imm(b.rng().below(256))});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    auto d = b.xmm(any(b.rng()));
    auto m = b.mem_holding(head(any(b.rng()), 2), 1);
    return b.emit(ZYDIS_MNEMONIC_PINSRW, {d, m, CaseBuilder::imm(b.rng().below(256))});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {  // MASKMOVDQU to [rdi], any alignment
    b.claim(kRdi);
    b.set(kRdi, kDataBase + 0x2000 + b.rng().below(0x1000));
    auto d = b.xmm(any(b.rng())), s = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
    return b.emit(ZYDIS_MNEMONIC_MASKMOVDQU, {d, s});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    const uint32_t v = random_mxcsr(b.rng(), 30);
    const uint8_t bytes[4] = {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), 0, 0};
    return b.emit(ZYDIS_MNEMONIC_LDMXCSR, {b.mem_holding(bytes, 4)});
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    put32(b.fx(), kFxMxcsr, random_mxcsr(b.rng(), 30));
    return b.emit(ZYDIS_MNEMONIC_STMXCSR, {b.mem(32)});
  });
}

}  // namespace

void gen_sse_move(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_whole(rng, per_form, out);
  gen_low(rng, per_form, out);
  gen_extract(rng, per_form, out);
}

}  // namespace densevm::diff
