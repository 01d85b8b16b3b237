// x87 and SSE state instructions on random states: FNINIT FNCLEX FWAIT FLDCW FNSTCW FNSTSW
// (AX, m16) FNSTENV FLDENV FXSAVE FXSAVE64 FXRSTOR FXRSTOR64, and idioms the Linux kernel
// and glibc run: the kernel's FDIV check, FXAM and FUCOMIP on a long double, FNSTENV with
// FLDENV around a change (fegetenv/fesetenv), FXSAVE then FXRSTOR.
//
// What the SDM leaves to the implementation is declared undefined: FNSTENV's and FXSAVE's
// FIP, FCS, FOP, FDP, FDS and reserved bytes, FXSAVE's MXCSR_MASK (0x2FFFF on AMD).
#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

// The memory operand is [rbx], pointing at `bytes` placed at an offset aligned to `align`.
uint32_t at_rbx(CaseBuilder& b, const std::vector<uint8_t>& bytes, unsigned align) {
  b.claim(kRbx);
  (void)b.mem_holding(bytes, align);
  const uint32_t offset = b.last_offset();
  b.set(kRbx, kDataBase + offset);
  return offset;
}

std::vector<uint8_t> random_bytes(Rng& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& x : v) x = static_cast<uint8_t>(rng.next());
  return v;
}

void undefined(CaseBuilder& b, uint32_t base, uint32_t offset, uint32_t length) {
  b.c().undefined_data.emplace_back(base + offset, length);
}

// An FXSAVE image FXRSTOR accepts: random x87 state, a valid MXCSR, random XMM and
// reserved bytes.
std::vector<uint8_t> fxrstor_image(Rng& rng) {
  CaseBuilder scratch(rng);
  random_x87_state(scratch, 30);
  FxImage fx = scratch.fx();
  put32(fx, kFxMxcsr, random_mxcsr(rng, 30));
  for (size_t i = kFxXmm; i < fx.size(); ++i) fx[i] = static_cast<uint8_t>(rng.next());
  for (size_t i : {5u, 6u, 7u}) fx[i] = static_cast<uint8_t>(rng.next());  // FOP (11 bits) too
  for (size_t i = 8; i < 24; ++i) fx[i] = static_cast<uint8_t>(rng.next());  // FIP FDP
  if (rng.chance(30)) {  // an error left pending: FXRSTOR sets ES, the next waiting insn traps
    fx[kFxFsw] |= static_cast<uint8_t>(rng.below(64));
  }
  return {fx.begin(), fx.end()};
}

void x87_state(CaseBuilder& b) {
  random_x87_state(b, b.rng().chance(50) ? 30 : 0);
}

// Pending errors are fine for non-waiting instructions: make one sometimes.
void maybe_pending(CaseBuilder& b) {
  FxImage& fx = b.fx();
  if (b.rng().chance(40)) fx[kFxFsw] |= static_cast<uint8_t>(~fx[kFxFcw] & 0x3f & b.rng().next());
}

}  // namespace

void gen_fpu_state(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  struct { const char* label; std::vector<uint8_t> code; bool waiting; } const kPlain[] = {
      {"fninit", {0xdb, 0xe3}, false}, {"fnclex", {0xdb, 0xe2}, false},
      {"fnstsw ax", {0xdf, 0xe0}, false}, {"fwait", {0x9b}, true},
      {"fninit ; fld1 ; fldz ; fdivp", {0xdb, 0xe3, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9}, false},
  };
  for (const auto& p : kPlain) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      x87_state(b);
      if (!p.waiting) maybe_pending(b);
      b.c().label = p.label;
      b.c().code = p.code;
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // fldcw m16: any value
    x87_state(b);
    b.c().label = "fldcw m16";
    at_rbx(b, random_bytes(b.rng(), 2), 1);
    b.raw({0xd9, 0x2b});
    return true;
  });
  for (bool control : {true, false}) {  // fnstcw (d9 /7), fnstsw (dd /7) m16
    repeat(rng, n, out, [&](CaseBuilder& b) {
      x87_state(b);
      maybe_pending(b);
      b.c().label = control ? "fnstcw m16" : "fnstsw m16";
      at_rbx(b, random_bytes(b.rng(), 2), 1);
      b.raw({static_cast<uint8_t>(control ? 0xd9 : 0xdd), 0x3b});
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // fnstenv m28
    x87_state(b);
    maybe_pending(b);
    b.c().label = "fnstenv m28";
    const uint32_t at = at_rbx(b, random_bytes(b.rng(), 28), 4);
    for (uint32_t reserved : {2u, 6u, 10u}) undefined(b, at, reserved, 2);
    undefined(b, at, 12, 16);  // FIP, FCS and FOP, FDP, FDS
    b.raw({0xd9, 0x33});
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {  // fldenv m28 of a random environment
    x87_state(b);
    b.c().label = "fldenv m28";
    std::vector<uint8_t> env = random_bytes(b.rng(), 28);
    env[0] |= 0x3f;  // sometimes an error pending after it; none before (FLDENV waits)
    if (b.rng().chance(30)) env[0] &= static_cast<uint8_t>(b.rng().next() | 0xc0);
    at_rbx(b, env, 4);
    b.raw({0xd9, 0x23});
    return true;
  });
  for (bool wide : {false, true}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {  // fxsave(64) m512
      x87_state(b);
      maybe_pending(b);
      put32(b.fx(), kFxMxcsr, random_mxcsr(b.rng(), 30));
      b.c().label = wide ? "fxsave64 m512" : "fxsave m512";
      const uint32_t at = at_rbx(b, random_bytes(b.rng(), 512), 16);
      undefined(b, at, 5, 19);   // reserved, FOP, FIP/FCS, FDP/FDS
      undefined(b, at, 28, 4);   // MXCSR_MASK
      for (uint32_t i = 0; i < 8; ++i) undefined(b, at, 32 + 16 * i + 10, 6);  // reserved
      undefined(b, at, 416, 96);  // reserved and available
      if (wide) b.raw({0x48});
      b.raw({0x0f, 0xae, 0x03});
      return true;
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {  // fxrstor(64) m512
      x87_state(b);
      b.c().label = wide ? "fxrstor64 m512" : "fxrstor m512";
      at_rbx(b, fxrstor_image(b.rng()), 16);
      if (wide) b.raw({0x48});
      b.raw({0x0f, 0xae, 0x0b});
      return true;
    });
  }
  // Idioms.
  repeat(rng, n, out, [&](CaseBuilder& b) {
    // The kernel's FDIV check: fninit; fld x; fdiv y; fmul y; fld x; fsubp; fistp [rbx+16]
    b.c().label = "fdiv check (linux)";
    std::vector<uint8_t> data(24);
    const double x = 4195835.0, y = 3145727.0;
    std::memcpy(data.data(), &x, 8);
    std::memcpy(data.data() + 8, &y, 8);
    at_rbx(b, data, 8);
    b.c().code = {0xdb, 0xe3, 0xdd, 0x03, 0xdc, 0x73, 0x08, 0xdc, 0x4b, 0x08,
                  0xdd, 0x03, 0xde, 0xe9, 0xdb, 0x5b, 0x10};
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    // A long double classified (glibc's isinf/isnan): fld m80; fxam; fnstsw ax; fstp st0
    random_x87_state(b, 0);
    b.c().label = "fld m80 ; fxam ; fnstsw ax ; fstp st0";
    const auto v = edge_extended(b.rng());
    at_rbx(b, std::vector<uint8_t>(v.begin(), v.end()), 1);
    b.c().code = {0xdb, 0x2b, 0xd9, 0xe5, 0xdf, 0xe0, 0xdd, 0xd8};
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    // fegetenv / change / fesetenv: fnstenv [rbx]; fldcw [rbx+32]; fld1; fldz; fdivp; fldenv [rbx]
    random_x87_state(b, 0);
    b.c().label = "fnstenv ; fldcw ; fdiv ; fldenv";
    std::vector<uint8_t> data = random_bytes(b.rng(), 34);
    data[32] |= 0x3f;  // the new control word masks everything: FLDENV must not trap
    const uint32_t at = at_rbx(b, data, 4);
    for (uint32_t reserved : {2u, 6u, 10u}) undefined(b, at, reserved, 2);
    undefined(b, at, 12, 16);
    b.c().code = {0xd9, 0x33, 0xd9, 0x6b, 0x20, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xd9, 0x23};
    return true;
  });
  repeat(rng, n, out, [&](CaseBuilder& b) {
    // A context switch: fxsave64 [rbx]; fninit; pxor xmm0, xmm0; fxrstor64 [rbx]
    x87_state(b);
    put32(b.fx(), kFxMxcsr, random_mxcsr(b.rng(), 30));
    b.c().label = "fxsave64 ; fninit ; pxor ; fxrstor64";
    const uint32_t at = at_rbx(b, random_bytes(b.rng(), 512), 16);
    undefined(b, at, 5, 19);
    undefined(b, at, 28, 4);
    for (uint32_t i = 0; i < 8; ++i) undefined(b, at, 32 + 16 * i + 10, 6);
    undefined(b, at, 416, 96);
    b.c().code = {0x48, 0x0f, 0xae, 0x03, 0xdb, 0xe3, 0x66, 0x0f, 0xef, 0xc0, 0x48, 0x0f, 0xae, 0x0b};
    return true;
  });
}

}  // namespace densevm::diff
