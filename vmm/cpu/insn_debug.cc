// MOV to and from the debug registers DR0-DR7 (SDM Vol 2B "MOV—Move to/from Debug
// Registers", Vol 3B §18.2). The registers are stored and read back with their fixed bits;
// no breakpoint ever fires (DR7's enables are kept, not acted on; CPUID's DE bit promises
// only CR4.DE's aliasing rule).
//
// Checks, in order: CPL 0 (#GP(0)); DR4/DR5 are #UD with CR4.DE and aliases of DR6/DR7
// without it; DR7.GD set makes any access a #DB fault that sets DR6.BD and clears GD; writes
// of bits 63:32 of DR6/DR7 are #GP(0).
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

constexpr uint64_t kDr6Bd = 1u << 13;     // debug register access detected
constexpr uint64_t kDr6Writable = 0xe00f;  // B0-B3, BD, BS, BT
constexpr uint64_t kDr7Gd = 1u << 13;      // general detect enable
constexpr uint64_t kDr7Writable = 0xffff23ff;  // L0-G3, LE, GE, GD, R/W and LEN fields

// The register a MOV names after the DE aliasing rule, or kFault with the exception pending.
Exec resolve(Vcpu& v, unsigned n, unsigned& reg) {
  CpuState& s = v.state();
  if (s.cpl != 0) return v.raise_gp0();
  if (n >= 8) return v.raise(kVecUd);  // DR8-DR15 do not exist
  if (n == 4 || n == 5) {
    if (s.cr4 & kCr4De) return v.raise(kVecUd);
    n += 2;
  }
  if (s.dr7 & kDr7Gd) {
    s.dr6 |= kDr6Bd;
    s.dr7 &= ~kDr7Gd;  // so the #DB handler itself may use the debug registers
    return v.raise(kVecDb);
  }
  reg = n;
  return Exec::kNext;
}

Exec mov_to_dr(Vcpu& v, const DecodedInsn& d) {
  unsigned n = 0;  // set by resolve when it returns kNext; GCC 12 -O3 cannot see that
  if (const Exec e = resolve(v, d.aux, n); e != Exec::kNext) return e;
  const uint64_t value = v.gpr(d.reg);
  CpuState& s = v.state();
  if (n < 4) {
    s.dr[n] = value;
    return Exec::kNext;
  }
  if (value >> 32) return v.raise_gp0();
  if (n == 6) s.dr6 = kDr6Reset | (value & kDr6Writable);
  else s.dr7 = kDr7Reset | (value & kDr7Writable);
  return Exec::kNext;
}

Exec mov_from_dr(Vcpu& v, const DecodedInsn& d) {
  unsigned n = 0;  // set by resolve when it returns kNext; GCC 12 -O3 cannot see that
  if (const Exec e = resolve(v, d.aux, n); e != Exec::kNext) return e;
  const CpuState& s = v.state();
  v.gpr(d.reg) = n < 4 ? s.dr[n] : n == 6 ? s.dr6 : s.dr7;
  return Exec::kNext;
}

bool is_debug(const DecodeContext& c, unsigned i) {
  return c.kind[i] == OpKind::kReg &&
         ZydisRegisterGetClass(c.ops[i].reg.value) == ZYDIS_REGCLASS_DEBUG;
}

}  // namespace

bool build_mov_debug(const DecodeContext& c, DecodedInsn& d) {
  const bool to_debug = is_debug(c, 0);
  if (!to_debug && !is_debug(c, 1)) return false;
  if (d.reg == kNoReg) return false;
  d.aux = static_cast<uint8_t>(ZydisRegisterGetId(c.ops[to_debug ? 0 : 1].reg.value));
  d.handler = to_debug ? &mov_to_dr : &mov_from_dr;
  return true;
}

}  // namespace densevm::cpu
