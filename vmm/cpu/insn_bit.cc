// Bit instructions: BT BTS BTR BTC, BSF BSR, LZCNT POPCNT, and XLAT.
//
// SDM Vol 2A "BT": with a memory operand and a register bit offset, the offset is signed
// and may select a bit outside the addressed operand; the access then goes to
// address + (offset >> log2(width)) * (width / 8). An immediate offset is taken modulo the
// width. Flags the SDM leaves undefined are set as a current Intel core (a Xeon) sets them:
// BT* leave OF SF AF PF unchanged; BSF/BSR clear CF AF OF and take SF PF from the index;
// LZCNT clears OF SF AF PF. There is no TZCNT: CPUID does not report BMI1, so F3 0F BC is
// REP BSF, as on a CPU without BMI1 (see UNDEFINED.md). BSF/BSR of 0 leave the destination unchanged, as Intel
// and AMD hardware do.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

enum class BitOp : uint8_t { kTest, kSet, kReset, kComplement };

// Effective address of a BT memory operand moved by `delta` bytes, wrapping like the
// address computation itself when the address size is 32 bits.
uint64_t moved_address(Vcpu& v, const DecodedInsn& d, int64_t delta) {
  if (!d.addr32) return v.effective_address(d) + static_cast<uint64_t>(delta);
  DecodedInsn flat = d;
  flat.seg = kSegNone;
  uint64_t ea = static_cast<uint32_t>(v.effective_address(flat) + static_cast<uint64_t>(delta));
  if (d.seg == kSegFs) ea += v.state().fs_base;
  if (d.seg == kSegGs) ea += v.state().gs_base;
  return ea;
}

template <BitOp K>
struct BitTest {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      constexpr unsigned kW = S * 8;
      constexpr bool kImm = F == Form::kRI || F == Form::kMI;
      uint64_t value, addr = 0, bit;
      if constexpr (kImm) {
        bit = d.imm & (kW - 1);
      } else {
        bit = v.reg<S>(F == Form::kRR ? d.rm : d.reg);
      }
      if constexpr (form_has_mem_dst(F)) {
        int64_t delta = 0;
        if constexpr (!kImm) {
          const int64_t offset = sign_extend(bit, S);
          delta = (offset >> __builtin_ctz(kW)) * static_cast<int64_t>(S);
          bit &= kW - 1;
        }
        addr = moved_address(v, d, delta);
        if (!v.read<S>(addr, value)) return Exec::kFault;
      } else {
        bit &= kW - 1;
        value = v.reg<S>(d.reg);
      }
      const uint64_t cf = (value >> bit) & 1;
      if constexpr (K != BitOp::kTest) {
        const uint64_t m = uint64_t{1} << bit;
        const uint64_t res = K == BitOp::kSet ? value | m : K == BitOp::kReset ? value & ~m : value ^ m;
        if constexpr (form_has_mem_dst(F)) {
          if (!v.write<S>(addr, res)) return Exec::kFault;
        } else {
          v.set_reg<S>(d.reg, res);
        }
      }
      v.set_arith_flags(kFlagCf, cf);
      return Exec::kNext;
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    Form f;
    if (!classify(c, f) || d.size < 2) return false;
    if (f != Form::kRR && f != Form::kMR && f != Form::kRI && f != Form::kMI) return false;
    d.handler = by_form<Fn>(f, d.size);
    return true;
  }
};

enum class Scan : uint8_t { kBsf, kBsr, kLzcnt, kPopcnt };

template <Scan K>
struct BitScan {
  template <unsigned S, Form F>
  struct Fn {
    static Exec run(Vcpu& v, const DecodedInsn& d) {
      constexpr unsigned kW = S * 8;
      uint64_t src;
      if constexpr (F == Form::kRM) {
        if (!v.read<S>(v.effective_address(d), src)) return Exec::kFault;
      } else {
        src = v.reg<S>(d.rm);
      }
      uint64_t res;
      if constexpr (K == Scan::kBsf || K == Scan::kBsr) {
        // Intel: CF AF OF clear, SF PF from the index (from 0 when there is none).
        if (src == 0) {
          v.set_arith_flags(kFlagsArith, kFlagZf | kFlagPf);  // destination unchanged
          return Exec::kNext;
        }
        res = K == Scan::kBsf ? static_cast<uint64_t>(__builtin_ctzll(src))
                              : static_cast<uint64_t>(63 - __builtin_clzll(src));
        v.set_reg<S>(d.reg, res);
        v.set_arith_flags(kFlagsArith, result_flags(res, S) & ~kFlagZf);
        return Exec::kNext;
      } else if constexpr (K == Scan::kPopcnt) {
        res = static_cast<uint64_t>(__builtin_popcountll(src));
        v.set_reg<S>(d.reg, res);
        v.set_arith_flags(kFlagsArith, src == 0 ? kFlagZf : 0);
        return Exec::kNext;
      } else {
        res = src == 0 ? kW : static_cast<uint64_t>(__builtin_clzll(src)) - (64 - kW);
        v.set_reg<S>(d.reg, res);
        // The undefined OF SF AF PF are clear on Intel.
        v.set_arith_flags(kFlagsArith, (src == 0 ? kFlagCf : 0) | (res == 0 ? kFlagZf : 0));
        return Exec::kNext;
      }
    }
  };
  static bool build(const DecodeContext& c, DecodedInsn& d) {
    Form f;
    if (!classify(c, f) || d.size < 2 || (f != Form::kRR && f != Form::kRM)) return false;
    d.handler = by_form<Fn>(f, d.size);
    return true;
  }
};

// XLAT: AL = [rBX + AL], the table in the data segment or the override.
Exec xlat(Vcpu& v, const DecodedInsn& d) {
  uint64_t addr = v.gpr(kRbx) + v.reg<1>(kRax);
  if (d.addr32) addr = static_cast<uint32_t>(addr);
  if (d.seg == kSegFs) addr += v.state().fs_base;
  if (d.seg == kSegGs) addr += v.state().gs_base;
  uint64_t value;
  if (!v.read<1>(addr, value)) return Exec::kFault;
  v.set_reg<1>(kRax, value);
  return Exec::kNext;
}

bool build_xlat(const DecodeContext& c, DecodedInsn& d) {
  const ZydisRegister seg = c.ops[0].mem.segment;  // the hidden table operand
  d.seg = seg == ZYDIS_REGISTER_FS ? kSegFs : seg == ZYDIS_REGISTER_GS ? kSegGs : kSegNone;
  d.handler = &xlat;
  return true;
}

}  // namespace

void register_bit_ops() {
  register_builder(ZYDIS_MNEMONIC_BT, &BitTest<BitOp::kTest>::build);
  register_builder(ZYDIS_MNEMONIC_BTS, &BitTest<BitOp::kSet>::build);
  register_builder(ZYDIS_MNEMONIC_BTR, &BitTest<BitOp::kReset>::build);
  register_builder(ZYDIS_MNEMONIC_BTC, &BitTest<BitOp::kComplement>::build);
  register_builder(ZYDIS_MNEMONIC_BSF, &BitScan<Scan::kBsf>::build);
  register_builder(ZYDIS_MNEMONIC_BSR, &BitScan<Scan::kBsr>::build);
  register_builder(ZYDIS_MNEMONIC_LZCNT, &BitScan<Scan::kLzcnt>::build);
  register_builder(ZYDIS_MNEMONIC_POPCNT, &BitScan<Scan::kPopcnt>::build);
  register_builder(ZYDIS_MNEMONIC_XLAT, &build_xlat);
}

}  // namespace densevm::cpu
