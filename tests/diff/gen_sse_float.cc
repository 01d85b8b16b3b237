// SSE/SSE2 floating point: ADD SUB MUL DIV MIN MAX SQRT (PS PD SS SD), CMPcc (all eight
// predicates), COMIS UCOMIS, and every conversion, on edge-biased lanes under a random MXCSR
// (rounding mode, DAZ, FTZ, sticky flags). The FloatMasked group keeps every exception
// masked; FloatUnmasked unmasks each with a 40% chance, so some cases end in #XM with the
// flags the SDM says and the destination unchanged.
#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

enum class Kind { kPs, kPd, kSs, kSd };

struct FloatInsn {
  ZydisMnemonic mn;
  Kind kind;
  Lanes dst = Lanes::kSingles;  // lane kinds of the destination and the source
  Lanes src = Lanes::kSingles;
  unsigned mem_bytes = 16;
};

constexpr Lanes kS = Lanes::kSingles, kD = Lanes::kDoubles, kI = Lanes::kIntegers;

constexpr FloatInsn kInsns[] = {
    {ZYDIS_MNEMONIC_ADDPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_ADDSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_ADDPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_ADDSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_SUBPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_SUBSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_SUBPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_SUBSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_MULPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_MULSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_MULPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_MULSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_DIVPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_DIVSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_DIVPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_DIVSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_MINPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_MINSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_MINPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_MINSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_MAXPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_MAXSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_MAXPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_MAXSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_SQRTPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_SQRTSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_SQRTPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_SQRTSD, Kind::kSd, kD, kD, 8},
    {ZYDIS_MNEMONIC_CVTSS2SD, Kind::kSs, kD, kS, 4}, {ZYDIS_MNEMONIC_CVTSD2SS, Kind::kSd, kS, kD, 8},
    {ZYDIS_MNEMONIC_CVTPS2PD, Kind::kPs, kD, kS, 8}, {ZYDIS_MNEMONIC_CVTPD2PS, Kind::kPd, kS, kD, 16},
    {ZYDIS_MNEMONIC_CVTDQ2PS, Kind::kPs, kS, kI, 16}, {ZYDIS_MNEMONIC_CVTDQ2PD, Kind::kPd, kD, kI, 8},
    {ZYDIS_MNEMONIC_CVTPS2DQ, Kind::kPs, kI, kS, 16}, {ZYDIS_MNEMONIC_CVTTPS2DQ, Kind::kPs, kI, kS, 16},
    {ZYDIS_MNEMONIC_CVTPD2DQ, Kind::kPd, kI, kD, 16}, {ZYDIS_MNEMONIC_CVTTPD2DQ, Kind::kPd, kI, kD, 16},
};

constexpr FloatInsn kCompares[] = {
    {ZYDIS_MNEMONIC_CMPPS, Kind::kPs, kS, kS, 16}, {ZYDIS_MNEMONIC_CMPSS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_CMPPD, Kind::kPd, kD, kD, 16}, {ZYDIS_MNEMONIC_CMPSD, Kind::kSd, kD, kD, 8},
};

constexpr FloatInsn kToFlags[] = {
    {ZYDIS_MNEMONIC_COMISS, Kind::kSs, kS, kS, 4}, {ZYDIS_MNEMONIC_UCOMISS, Kind::kSs, kS, kS, 4},
    {ZYDIS_MNEMONIC_COMISD, Kind::kSd, kD, kD, 8}, {ZYDIS_MNEMONIC_UCOMISD, Kind::kSd, kD, kD, 8},
};

// Sometimes both operands share their lanes' magnitudes, so that sums cancel and products
// of related values hit the edges together.
Bytes16 source_for(Rng& rng, const FloatInsn& f, const Bytes16& dst) {
  Bytes16 s = edge_lanes(rng, f.src);
  if (f.src == f.dst && f.src != Lanes::kIntegers && rng.chance(20)) {
    s = dst;
    const unsigned lane = f.src == Lanes::kSingles ? 4 : 8;
    for (unsigned i = lane - 1; i < 16; i += lane) s[i] ^= 0x80;  // -dst: exact cancellation
  }
  return s;
}

void gen_float(Rng& rng, size_t n, std::vector<DiffCase>& out, unsigned unmask) {
  auto setup = [&](CaseBuilder& b) {
    put32(b.fx(), kFxMxcsr, random_mxcsr(b.rng(), unmask));
    b.random_status_flags();
  };
  auto forms = [&](const FloatInsn& f, auto emit) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      setup(b);
      const Bytes16 dv = edge_lanes(b.rng(), f.dst);
      auto d = b.xmm(dv);
      auto s = b.xmm(source_for(b.rng(), f, dv));
      return emit(b, d, s);
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      setup(b);
      const Bytes16 dv = edge_lanes(b.rng(), f.dst);
      auto d = b.xmm(dv);
      const Bytes16 sv = source_for(b.rng(), f, dv);
      auto m = b.mem_holding(std::span(sv).first(f.mem_bytes), f.mem_bytes == 16 ? 16 : 1);
      return emit(b, d, m);
    });
  };
  for (const FloatInsn& f : kInsns) {
    forms(f, [&](CaseBuilder& b, auto d, auto s) { return b.emit(f.mn, {d, s}); });
  }
  for (const FloatInsn& f : kCompares) {
    for (unsigned p = 0; p < 8; ++p) {
      forms(f, [&](CaseBuilder& b, auto d, auto s) {
        if (!b.emit(f.mn, {d, s, CaseBuilder::imm(p)})) return false;
        b.c().label += " (predicate " + std::to_string(p) + ")";
        return true;
      });
    }
  }
  for (const FloatInsn& f : kToFlags) {
    forms(f, [&](CaseBuilder& b, auto d, auto s) { return b.emit(f.mn, {d, s}); });
  }
  // Integer to float: 32- and 64-bit registers and memory; the low lane only.
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_CVTSI2SS, ZYDIS_MNEMONIC_CVTSI2SD}) {
    for (unsigned w : {32u, 64u}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        setup(b);
        auto d = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
        return b.emit(mn, {d, b.reg(w)});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        setup(b);
        auto d = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
        return b.emit(mn, {d, b.mem(w)});
      });
    }
  }
  // Float to integer.
  struct { ZydisMnemonic mn; Lanes src; unsigned mem_bytes; } const kToInt[] = {
      {ZYDIS_MNEMONIC_CVTSS2SI, kS, 4}, {ZYDIS_MNEMONIC_CVTTSS2SI, kS, 4},
      {ZYDIS_MNEMONIC_CVTSD2SI, kD, 8}, {ZYDIS_MNEMONIC_CVTTSD2SI, kD, 8}};
  for (const auto& t : kToInt) {
    for (unsigned w : {32u, 64u}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        setup(b);
        auto d = b.reg(w);
        return b.emit(t.mn, {d, b.xmm(edge_lanes(b.rng(), t.src))});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        setup(b);
        auto d = b.reg(w);
        const Bytes16 v = edge_lanes(b.rng(), t.src);
        return b.emit(t.mn, {d, b.mem_holding(std::span(v).first(t.mem_bytes), 1)});
      });
    }
  }
}

}  // namespace

void gen_sse_float_masked(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_float(rng, per_form, out, 0);
}

void gen_sse_float_unmasked(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_float(rng, per_form, out, 40);
}

}  // namespace densevm::diff
