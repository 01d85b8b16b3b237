// Bit test and modify (bt bts btr btc: register, immediate, and memory with a register bit
// offset that reaches beyond the operand, both directions), bit scans and counts.
// lzcnt/popcnt are generated only when the host CPU has them. No tzcnt: the vCPU reports no
// BMI1 and runs F3 0F BC as REP BSF, which a host with BMI1 cannot run natively.
#include <cpuid.h>

#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

struct HostFeatures {
  bool popcnt = false, lzcnt = false;
};

HostFeatures host_features() {
  HostFeatures f;
  unsigned a, b, c, d;
  if (__get_cpuid(1, &a, &b, &c, &d)) f.popcnt = c >> 23 & 1;
  if (__get_cpuid(0x80000001, &a, &b, &c, &d)) f.lzcnt = c >> 5 & 1;  // ABM
  return f;
}

}  // namespace

void gen_bits(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_BT, ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR,
                           ZYDIS_MNEMONIC_BTC}) {
    for (unsigned w : kWideWidths) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w), s = b.reg(w);
        return b.emit(mn, {d, s});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.reg(w);
        return b.emit(mn, {d, CaseBuilder::imm(b.rng().below(256))});
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = b.mem(w);
        return b.emit(mn, {d, CaseBuilder::imm(b.rng().below(256))});
      });
      repeat(rng, 2 * n, out, [&](CaseBuilder& b) {
        // The register bit offset is signed and selects a word anywhere within +-8 KiB.
        b.random_status_flags();
        auto d = b.mem(w, static_cast<uint32_t>(0x6000 + b.rng().below(64) * (w / 8)));
        auto s = b.reg(w);
        const int64_t span = w == 16 ? 0x8000 : 0x10000;
        const int64_t bit = static_cast<int64_t>(b.rng().below(2 * span)) - span;
        const uint64_t garbage = w == 64 ? 0 : b.rng().next() & ~mask_of(w);  // ignored bits
        b.override_last((static_cast<uint64_t>(bit) & mask_of(w)) | garbage);
        if (!b.emit(mn, {d, s})) return false;
        b.c().label += " (far bit)";
        return true;
      });
    }
  }
  const HostFeatures host = host_features();
  struct Scan { ZydisMnemonic mn; bool available; bool undefined_on_zero; };
  const Scan scans[] = {{ZYDIS_MNEMONIC_BSF, true, true},      {ZYDIS_MNEMONIC_BSR, true, true},
                        {ZYDIS_MNEMONIC_LZCNT, host.lzcnt, false},
                        {ZYDIS_MNEMONIC_POPCNT, host.popcnt, false}};
  for (const Scan& scan : scans) {
    if (!scan.available) continue;
    for (unsigned w : kWideWidths) {
      for (bool memory : {false, true}) {
        repeat(rng, n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          auto d = b.reg(w);
          const unsigned dest = ZydisRegisterGetId(d.reg.value);
          auto s = memory ? b.mem(w) : b.reg(w);
          if (b.rng().chance(15)) b.override_last(b.last_value() & ~mask_of(w));  // zero source
          if (!b.emit(scan.mn, {d, s})) return false;
          // bsf/bsr leave the destination undefined for a zero source (SDM Vol. 2A BSF).
          if (scan.undefined_on_zero && (b.last_value() & mask_of(w)) == 0) {
            b.c().undefined_gprs = static_cast<uint16_t>(1u << dest);
          }
          return true;
        });
      }
    }
  }
}

}  // namespace densevm::diff
