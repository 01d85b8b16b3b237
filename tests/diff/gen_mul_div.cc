// mul and imul (one, two and three operands) and non-faulting div/idiv: the dividend is
// built from a random quotient that fits, so #DE only appears in the Fault group.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

using u128 = unsigned __int128;
using i128 = __int128;

int64_t sign_extend(uint64_t v, unsigned w) {
  const unsigned shift = 64 - w;
  return static_cast<int64_t>(v << shift) >> shift;
}

// Loads rdx:rax (or ax for 8 bits) with a dividend whose quotient by `divisor` fits in w bits.
bool set_dividend(CaseBuilder& b, unsigned w, uint64_t divisor, bool is_signed) {
  Rng& rng = b.rng();
  const uint64_t m = mask_of(w);
  u128 dividend;
  if (!is_signed) {
    const uint64_t d = divisor & m;
    if (d == 0) return false;
    const uint64_t q = edge_biased_value(rng, w) & m;
    const uint64_t r = rng.next() % d;
    dividend = static_cast<u128>(q) * d + r;
  } else {
    const int64_t d = sign_extend(divisor & m, w);
    if (d == 0) return false;
    const int64_t q = sign_extend(edge_biased_value(rng, w) & m, w);
    const uint64_t magnitude = d < 0 ? static_cast<uint64_t>(-(d + 1)) + 1 : static_cast<uint64_t>(d);
    const auto r = static_cast<int64_t>(rng.next() % magnitude);
    const i128 product = static_cast<i128>(q) * d;
    // The remainder takes the sign of the dividend.
    const i128 signed_dividend = product < 0 || (product == 0 && rng.chance(50)) ? product - r : product + r;
    const i128 quotient = signed_dividend / d;
    if (quotient != q) return false;
    dividend = static_cast<u128>(signed_dividend);
  }
  const uint64_t rax = b.c().in.gpr[kRax], rdx = b.c().in.gpr[kRdx];
  if (w == 8) {
    b.set(kRax, (rax & ~uint64_t{0xFFFF}) | (static_cast<uint64_t>(dividend) & 0xFFFF));
    return true;
  }
  const uint64_t low = static_cast<uint64_t>(dividend) & m;
  const uint64_t high = static_cast<uint64_t>(dividend >> w) & m;
  b.set(kRax, w == 32 ? low : (rax & ~m) | low);  // 32-bit writes clear the upper half anyway
  b.set(kRdx, w == 32 ? high : (rdx & ~m) | high);
  if (w == 32 && b.rng().chance(50)) {  // upper halves are ignored as inputs
    b.set(kRax, low | (b.rng().next() << 32));
    b.set(kRdx, high | (b.rng().next() << 32));
  }
  return true;
}

}  // namespace

void gen_mul_div(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MUL, ZYDIS_MNEMONIC_IMUL}) {
    for (unsigned w : kWidths) {
      for (bool memory : {false, true}) {
        repeat(rng, n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          b.fixed_reg(kRax, 64);
          b.fixed_reg(kRdx, 64);
          auto s = memory ? b.mem(w) : b.reg(w);
          return b.emit(mn, {s});
        });
      }
    }
  }
  for (unsigned w : kWideWidths) {
    for (bool memory : {false, true}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w);
        auto s = memory ? b.mem(w) : b.reg(w);
        return b.emit(ZYDIS_MNEMONIC_IMUL, {d, s});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w);
        auto s = memory ? b.mem(w) : b.reg(w);
        return b.emit(ZYDIS_MNEMONIC_IMUL, {d, s, b.random_imm(w)});
      });
    }
  }
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_DIV, ZYDIS_MNEMONIC_IDIV}) {
    for (unsigned w : kWidths) {
      for (bool memory : {false, true}) {
        repeat(rng, 2 * n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          b.fixed_reg(kRax, 64);
          b.fixed_reg(kRdx, 64);
          auto s = memory ? b.mem(w) : b.reg(w);
          if (!b.emit(mn, {s})) return false;
          return set_dividend(b, w, b.last_value(), mn == ZYDIS_MNEMONIC_IDIV);
        });
      }
    }
  }
}

}  // namespace densevm::diff
