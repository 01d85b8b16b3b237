// Exceptions of SSE and x87 instructions, raised identically on both sides with the
// registers, MXCSR and memory as before the faulting instruction: #GP(0) for a misaligned
// m128 (loads, stores, arithmetic, FXSAVE, FXRSTOR), #PF for an m128 that reaches an
// unmapped page, #GP(0) for a reserved MXCSR bit (LDMXCSR, FXRSTOR; bit 17 is AMD's MM and
// left out), #XM for each unmasked SIMD exception, and #MF for a pending x87 error.
#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

ZydisEncoderOperand at_rbx(CaseBuilder& b, uint64_t address, unsigned bytes) {
  b.claim(kRbx);
  b.set(kRbx, address);
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.base = ZYDIS_REGISTER_RBX;
  op.mem.size = static_cast<ZyanU16>(bytes);
  return op;
}

uint64_t misaligned(Rng& rng) { return kDataBase + 0x2000 + 16 * rng.below(64) + 1 + rng.below(15); }

Bytes16 lanes_of(float a, float b, float c, float d) {
  Bytes16 x;
  const float v[4] = {a, b, c, d};
  std::memcpy(x.data(), v, 16);
  return x;
}

Bytes16 lanes_of(double a, double b) {
  Bytes16 x;
  const double v[2] = {a, b};
  std::memcpy(x.data(), v, 16);
  return x;
}

}  // namespace

void gen_sse_fault(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  // #GP(0): an aligned-only m128 that is not aligned.
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVAPS, ZYDIS_MNEMONIC_MOVDQA, ZYDIS_MNEMONIC_PXOR,
                           ZYDIS_MNEMONIC_PADDB, ZYDIS_MNEMONIC_PCMPEQB, ZYDIS_MNEMONIC_ADDPS,
                           ZYDIS_MNEMONIC_CVTDQ2PS, ZYDIS_MNEMONIC_PUNPCKLBW}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
      if (!b.emit(mn, {d, at_rbx(b, misaligned(b.rng()), 16)})) return false;
      b.c().label += " (#GP misaligned)";
      return true;
    });
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVAPD, ZYDIS_MNEMONIC_MOVNTDQ}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto m = at_rbx(b, misaligned(b.rng()), 16);
      if (!b.emit(mn, {m, b.xmm(edge_lanes(b.rng(), Lanes::kRandom))})) return false;
      b.c().label += " (#GP misaligned)";
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {
    auto d = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
    if (!b.emit(ZYDIS_MNEMONIC_PSHUFD, {d, at_rbx(b, misaligned(b.rng()), 16), CaseBuilder::imm(0x1b)})) return false;
    b.c().label += " (#GP misaligned)";
    return true;
  });
  for (unsigned reg : {0u, 1u}) {  // fxsave, fxrstor
    repeat(rng, n, out, [&](CaseBuilder& b) {
      (void)at_rbx(b, misaligned(b.rng()), 16);
      b.c().label = reg == 0 ? "fxsave64 (#GP misaligned)" : "fxrstor64 (#GP misaligned)";
      b.raw({0x48, 0x0f, 0xae, static_cast<uint8_t>(reg << 3 | 3)});
      return true;
    });
  }
  // #PF: 16 bytes reaching past the data region, loaded or stored, unaligned or aligned.
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVDQU, ZYDIS_MNEMONIC_MOVUPS, ZYDIS_MNEMONIC_MOVAPS}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      const uint64_t address = mn == ZYDIS_MNEMONIC_MOVAPS ? kDataBase + kDataSize
                                                           : kDataBase + kDataSize - 1 - b.rng().below(15);
      auto d = b.xmm(edge_lanes(b.rng(), Lanes::kRandom));
      auto m = at_rbx(b, address, 16);
      const bool store = b.rng().chance(50);
      if (!(store ? b.emit(mn, {m, d}) : b.emit(mn, {d, m}))) return false;
      b.c().label += " (#PF)";
      return true;
    });
  }
  // #GP(0): reserved MXCSR bits.
  repeat(rng, n, out, [&](CaseBuilder& b) {
    const uint32_t bad = 0x1f80 | (1u << (b.rng().chance(50) ? 16 : 18 + b.rng().below(14)));
    const uint8_t bytes[4] = {static_cast<uint8_t>(bad), static_cast<uint8_t>(bad >> 8),
                              static_cast<uint8_t>(bad >> 16), static_cast<uint8_t>(bad >> 24)};
    if (!b.emit(ZYDIS_MNEMONIC_LDMXCSR, {b.mem_holding(bytes, 4)})) return false;
    b.c().label += " (#GP reserved bit)";
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    std::vector<uint8_t> image(512);
    std::memcpy(image.data(), b.fx().data(), 160);
    const uint32_t bad = 0x1f80 | 1u << 16;
    std::memcpy(&image[kFxMxcsr], &bad, 4);
    (void)b.mem_holding(image, 16);
    b.claim(kRbx);
    b.set(kRbx, kDataBase + b.last_offset());
    b.c().label = "fxrstor64 (#GP reserved MXCSR bit)";
    b.raw({0x48, 0x0f, 0xae, 0x0b});
    return true;
  });
  // #XM: each SIMD exception unmasked where it happens.
  const float inf = __builtin_inff(), snan = __builtin_nansf("");
  const double tiny = 0x1p-515, third = 1.0 / 3.0;
  struct { ZydisMnemonic mn; Bytes16 d, s; uint32_t mask_cleared; const char* label; } const kXm[] = {
      {ZYDIS_MNEMONIC_DIVSS, lanes_of(1.0f, 2, 3, 4), lanes_of(0.0f, 1, 1, 1), 1u << 9, "divss (#XM zero divide)"},
      {ZYDIS_MNEMONIC_ADDPS, lanes_of(1.0f, 2, 3, 4), lanes_of(1.0f, snan, 1, 1), 1u << 7, "addps (#XM SNaN)"},
      {ZYDIS_MNEMONIC_SUBPS, lanes_of(inf, 2, 3, 4), lanes_of(inf, 1, 1, 1), 1u << 7, "subps (#XM inf-inf)"},
      {ZYDIS_MNEMONIC_MULSD, lanes_of(tiny, 2.0), lanes_of(tiny, 1.0), 1u << 11, "mulsd (#XM exact underflow)"},
      {ZYDIS_MNEMONIC_MULPD, lanes_of(1e300, 2.0), lanes_of(1e300, 1.0), 1u << 10, "mulpd (#XM overflow)"},
      {ZYDIS_MNEMONIC_DIVSD, lanes_of(1.0, 2.0), lanes_of(3.0, 1.0), 1u << 12, "divsd (#XM inexact)"},
      {ZYDIS_MNEMONIC_ADDSD, lanes_of(0x1p-1074, 0.0), lanes_of(third, 0.0), 1u << 8, "addsd (#XM denormal)"},
      {ZYDIS_MNEMONIC_COMISS, lanes_of(__builtin_nanf(""), 0, 0, 0), lanes_of(1.0f, 0, 0, 0), 1u << 7, "comiss (#XM QNaN)"},
      {ZYDIS_MNEMONIC_CVTSD2SS, lanes_of(0.0, 0.0), lanes_of(1e300, 0.0), 1u << 10, "cvtsd2ss (#XM overflow)"},
  };
  for (const auto& x : kXm) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      put32(b.fx(), kFxMxcsr, (random_mxcsr(b.rng(), 0) & ~(0x3fu | 1u << 6)) & ~x.mask_cleared);
      b.random_status_flags();
      auto d = b.xmm(x.d), s = b.xmm(x.s);
      if (!b.emit(x.mn, {d, s})) return false;
      b.c().label = x.label;
      return true;
    });
  }
  // #MF: an unmasked x87 error pending (ES, from FXRSTOR of the input) at a waiting instruction.
  for (uint8_t second : {uint8_t{0xe8}, uint8_t{0xee}}) {  // fld1, fldz
    repeat(rng, n, out, [&](CaseBuilder& b) {
      random_x87_state(b, 0);
      FxImage& fx = b.fx();
      const unsigned e = static_cast<unsigned>(b.rng().below(6));
      fx[kFxFcw] = static_cast<uint8_t>(fx[kFxFcw] & ~(1u << e));
      fx[kFxFsw] = static_cast<uint8_t>(fx[kFxFsw] | 1u << e);
      b.c().label = "x87 with an error pending (#MF)";
      b.c().code = {0xd9, second};
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {
    random_x87_state(b, 0);
    FxImage& fx = b.fx();
    fx[kFxFcw] = static_cast<uint8_t>(fx[kFxFcw] & ~1u);
    fx[kFxFsw] = static_cast<uint8_t>(fx[kFxFsw] | 1u);
    b.c().label = "fwait with an error pending (#MF)";
    b.c().code = {0x9b};
    return true;
  });
}

}  // namespace densevm::diff
