// x87 instructions on random register stacks (TOP, tags and values biased to the edges of
// double extended precision, empty registers for stack faults) under random precision and
// rounding control: every register form of the arithmetic, compares, FCOMI, FXCH, FLD/FST,
// constants, FRNDINT FSQRT FSCALE FXTRACT FPREM FPREM1 FXAM FTST FCHS FABS, FCMOVcc on random
// CF PF ZF, and every memory
// form of loads, stores and arithmetic (m16/m32/m64 integers, m32/m64/m80 reals, BCD).
// X87Masked masks every exception; X87Unmasked unmasks each with a 40% chance and sometimes
// follows with FWAIT, where the error is delivered as #MF.
#include <Zydis/Zydis.h>

#include <cstdio>

#include "tests/diff/gen_sse_util.h"
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

// Register forms: opcode, first ModRM, how many (8 for the st(i) forms).
struct RegisterForm {
  uint8_t opcode, modrm, count;
};

constexpr RegisterForm kRegisterForms[] = {
    {0xd8, 0xc0, 8}, {0xd8, 0xc8, 8}, {0xd8, 0xd0, 8}, {0xd8, 0xd8, 8},  // fadd fmul fcom fcomp
    {0xd8, 0xe0, 8}, {0xd8, 0xe8, 8}, {0xd8, 0xf0, 8}, {0xd8, 0xf8, 8},  // fsub fsubr fdiv fdivr
    {0xd9, 0xc0, 8}, {0xd9, 0xc8, 8},                                    // fld st(i), fxch
    {0xd9, 0xd0, 1}, {0xd9, 0xe0, 1}, {0xd9, 0xe1, 1}, {0xd9, 0xe4, 1},  // fnop fchs fabs ftst
    {0xd9, 0xe5, 1}, {0xd9, 0xe8, 1}, {0xd9, 0xe9, 1}, {0xd9, 0xea, 1},  // fxam fld1 fldl2t fldl2e
    {0xd9, 0xeb, 1}, {0xd9, 0xec, 1}, {0xd9, 0xed, 1}, {0xd9, 0xee, 1},  // fldpi fldlg2 fldln2 fldz
    {0xd9, 0xf4, 1}, {0xd9, 0xf5, 1}, {0xd9, 0xf6, 1}, {0xd9, 0xf7, 1},  // fxtract fprem1 fdecstp fincstp
    {0xd9, 0xf8, 1}, {0xd9, 0xfa, 1}, {0xd9, 0xfc, 1}, {0xd9, 0xfd, 1},  // fprem fsqrt frndint fscale
    {0xda, 0xe9, 1},                                                     // fucompp
    {0xda, 0xc0, 8}, {0xda, 0xc8, 8}, {0xda, 0xd0, 8}, {0xda, 0xd8, 8},  // fcmovb e be u
    {0xdb, 0xc0, 8}, {0xdb, 0xc8, 8}, {0xdb, 0xd0, 8}, {0xdb, 0xd8, 8},  // fcmovnb ne nbe nu
    {0xdb, 0xe8, 8}, {0xdb, 0xf0, 8},                                    // fucomi fcomi
    {0xdc, 0xc0, 8}, {0xdc, 0xc8, 8}, {0xdc, 0xe0, 8}, {0xdc, 0xe8, 8},  // st(i) = st(i) op st(0)
    {0xdc, 0xf0, 8}, {0xdc, 0xf8, 8},
    {0xdd, 0xc0, 8}, {0xdd, 0xd0, 8}, {0xdd, 0xd8, 8},                   // ffree fst fstp
    {0xdd, 0xe0, 8}, {0xdd, 0xe8, 8},                                    // fucom fucomp
    {0xde, 0xc0, 8}, {0xde, 0xc8, 8}, {0xde, 0xd9, 1},                   // faddp fmulp fcompp
    {0xde, 0xe0, 8}, {0xde, 0xe8, 8}, {0xde, 0xf0, 8}, {0xde, 0xf8, 8},  // fsubrp fsubp fdivrp fdivp
    {0xdf, 0xe8, 8}, {0xdf, 0xf0, 8},                                    // fucomip fcomip
};

enum class Mem : uint8_t { kReal32, kReal64, kReal80, kInt16, kInt32, kInt64, kBcd, kOut };

struct MemoryForm {
  uint8_t opcode, reg;
  Mem kind;
  uint8_t bytes;
};

constexpr MemoryForm kMemoryForms[] = {
    // arithmetic and compares on each memory type
    {0xd8, 0, Mem::kReal32, 4}, {0xd8, 1, Mem::kReal32, 4}, {0xd8, 2, Mem::kReal32, 4},
    {0xd8, 3, Mem::kReal32, 4}, {0xd8, 4, Mem::kReal32, 4}, {0xd8, 5, Mem::kReal32, 4},
    {0xd8, 6, Mem::kReal32, 4}, {0xd8, 7, Mem::kReal32, 4},
    {0xdc, 0, Mem::kReal64, 8}, {0xdc, 1, Mem::kReal64, 8}, {0xdc, 2, Mem::kReal64, 8},
    {0xdc, 3, Mem::kReal64, 8}, {0xdc, 4, Mem::kReal64, 8}, {0xdc, 5, Mem::kReal64, 8},
    {0xdc, 6, Mem::kReal64, 8}, {0xdc, 7, Mem::kReal64, 8},
    {0xda, 0, Mem::kInt32, 4},  {0xda, 1, Mem::kInt32, 4},  {0xda, 2, Mem::kInt32, 4},
    {0xda, 3, Mem::kInt32, 4},  {0xda, 4, Mem::kInt32, 4},  {0xda, 5, Mem::kInt32, 4},
    {0xda, 6, Mem::kInt32, 4},  {0xda, 7, Mem::kInt32, 4},
    {0xde, 0, Mem::kInt16, 2},  {0xde, 1, Mem::kInt16, 2},  {0xde, 2, Mem::kInt16, 2},
    {0xde, 3, Mem::kInt16, 2},  {0xde, 4, Mem::kInt16, 2},  {0xde, 5, Mem::kInt16, 2},
    {0xde, 6, Mem::kInt16, 2},  {0xde, 7, Mem::kInt16, 2},
    // loads and stores
    {0xd9, 0, Mem::kReal32, 4}, {0xd9, 2, Mem::kOut, 4},    {0xd9, 3, Mem::kOut, 4},
    {0xdb, 0, Mem::kInt32, 4},  {0xdb, 1, Mem::kOut, 4},    {0xdb, 2, Mem::kOut, 4},
    {0xdb, 3, Mem::kOut, 4},    {0xdb, 5, Mem::kReal80, 10}, {0xdb, 7, Mem::kOut, 10},
    {0xdd, 0, Mem::kReal64, 8}, {0xdd, 1, Mem::kOut, 8},    {0xdd, 2, Mem::kOut, 8},
    {0xdd, 3, Mem::kOut, 8},
    {0xdf, 0, Mem::kInt16, 2},  {0xdf, 1, Mem::kOut, 2},    {0xdf, 2, Mem::kOut, 2},
    {0xdf, 3, Mem::kOut, 2},    {0xdf, 4, Mem::kBcd, 10},   {0xdf, 5, Mem::kInt64, 8},
    {0xdf, 6, Mem::kOut, 10},   {0xdf, 7, Mem::kOut, 8},
};

// FCW: random precision (never the reserved 01) and rounding; masked, or each exception
// unmasked with `unmask` percent.
uint16_t random_fcw(Rng& rng, unsigned unmask) {
  static constexpr uint16_t kPc[] = {0, 2, 3};
  uint16_t cw = static_cast<uint16_t>(0x40 | kPc[rng.below(3)] << 8 | rng.below(4) << 10);
  for (unsigned i = 0; i < 6; ++i) {
    if (!rng.chance(unmask)) cw |= static_cast<uint16_t>(1u << i);
  }
  return cw;
}

}  // namespace

// A random x87 state: TOP, tags (each register in use with 75%), values, condition codes;
// exception flags only where masked, so that nothing is pending when the case starts.
void random_x87_state(CaseBuilder& b, unsigned unmask) {
  Rng& rng = b.rng();
  FxImage& fx = b.fx();
  const uint16_t fcw = random_fcw(rng, unmask);
  uint16_t fsw = static_cast<uint16_t>(rng.below(8) << 11);
  fsw |= static_cast<uint16_t>(rng.next() & 0x4700);  // C3 C2 C1 C0
  if (rng.chance(30)) fsw |= static_cast<uint16_t>(rng.below(64) & fcw & 0x3f);
  put16(fx, kFxFcw, fcw);
  put16(fx, kFxFsw, fsw);
  uint8_t tags = 0;
  for (unsigned i = 0; i < 8; ++i) {
    if (rng.chance(75)) tags |= static_cast<uint8_t>(1u << i);
  }
  if (rng.chance(10)) tags = 0xff;  // full: every load overflows the stack
  if (rng.chance(10)) tags = 0;     // empty: every read underflows it
  fx[kFxFtw] = tags;
  for (unsigned i = 0; i < 8; ++i) {
    const auto v = edge_extended(rng);
    std::memcpy(&fx[kFxSt + 16 * i], v.data(), 10);
  }
}

namespace {

std::vector<uint8_t> memory_value(Rng& rng, Mem kind, unsigned bytes) {
  std::vector<uint8_t> v(bytes);
  uint64_t x = 0;
  switch (kind) {
    case Mem::kReal32: x = edge_single(rng); break;
    case Mem::kReal64: x = edge_double(rng); break;
    case Mem::kInt16: x = edge_biased_value(rng, 16); break;
    case Mem::kInt32: x = edge_biased_value(rng, 32); break;
    case Mem::kInt64: x = edge_biased_value(rng, 64); break;
    case Mem::kReal80: {
      const auto e = edge_extended(rng);
      std::memcpy(v.data(), e.data(), 10);
      return v;
    }
    case Mem::kBcd:  // 18 valid packed-BCD digits and a sign byte (invalid digits: undefined)
      for (unsigned i = 0; i < 9; ++i) {
        v[i] = static_cast<uint8_t>(rng.below(10) | rng.below(10) << 4);
        if (rng.chance(30)) v[i] = 0;
      }
      v[9] = rng.chance(50) ? 0x80 : 0;
      return v;
    case Mem::kOut:
      x = rng.next();
      for (unsigned i = 8; i < bytes; ++i) v[i] = static_cast<uint8_t>(rng.next());
      break;
  }
  std::memcpy(v.data(), &x, bytes < 8 ? bytes : 8);
  return v;
}

std::string mnemonic_of(const std::vector<uint8_t>& code) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, nullptr, code.data(), code.size(), &insn))) {
    return "?";
  }
  return ZydisMnemonicGetString(insn.mnemonic);
}

std::string hex2(uint8_t a, uint8_t b) {
  char s[8];
  std::snprintf(s, sizeof s, "%02x %02x", a, b);
  return s;
}

void gen_x87(Rng& rng, size_t n, std::vector<DiffCase>& out, unsigned unmask) {
  auto maybe_wait = [&](CaseBuilder& b) {
    if (unmask != 0 && b.rng().chance(50)) {
      b.raw({0x9b});  // FWAIT: where an unmasked error is delivered
      b.c().label += " ; fwait";
    }
  };
  for (const RegisterForm& f : kRegisterForms) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      random_x87_state(b, unmask);
      b.random_status_flags();  // FCMOVcc reads CF PF ZF
      const auto modrm = static_cast<uint8_t>(f.modrm + b.rng().below(f.count));
      b.raw({f.opcode, modrm});
      // FCOMI and friends with an unmasked invalid operation: the SDM leaves RFLAGS alone
      // (Vol 2A FCOMI, Table 3-30), AMD sets them as for any unordered result. Not compared.
      const bool comi = (f.opcode == 0xdb || f.opcode == 0xdf) && f.modrm >= 0xe8;
      if (comi && !(b.fx()[kFxFcw] & 1)) b.c().undefined_flags = kComparedFlags & ~kFlagDf;
      b.c().label = mnemonic_of(b.c().code) + " (" + hex2(f.opcode, f.modrm) +
                    (f.count > 1 ? "+i)" : ")");
      maybe_wait(b);
      return true;
    });
  }
  for (const MemoryForm& f : kMemoryForms) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      random_x87_state(b, unmask);
      if (!b.is_free(kRbx)) return false;
      b.claim(kRbx);
      const std::vector<uint8_t> value = memory_value(b.rng(), f.kind, f.bytes);
      (void)b.mem_holding(value, 1);
      b.set(kRbx, kDataBase + b.last_offset());
      b.raw({f.opcode, static_cast<uint8_t>(f.reg << 3 | 3)});  // [rbx]
      b.c().label = mnemonic_of(b.c().code) + " m" + std::to_string(f.bytes * 8) + " (" +
                    hex2(f.opcode, static_cast<uint8_t>(f.reg << 3)) + ")";
      maybe_wait(b);
      return true;
    });
  }
}

}  // namespace

void gen_x87_masked(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_x87(rng, per_form, out, 0);
}

void gen_x87_unmasked(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_x87(rng, per_form, out, 40);
}

}  // namespace densevm::diff
