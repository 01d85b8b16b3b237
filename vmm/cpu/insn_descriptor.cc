// The LDT register and descriptor checks: LLDT, SLDT, VERR, VERW (SDM Vol 2A LLDT, Vol 2B
// SLDT, VERR/VERW; 64-bit mode).
//
// LLDT (CPL 0) loads LDTR from a 16-byte LDT descriptor in the GDT; a null selector leaves
// LDTR unusable, so later LDT selectors fault. SLDT, VERR and VERW work at any CPL (CPUID
// does not advertise UMIP). VERR/VERW only set ZF: whether data access at CPL and RPL could
// read (write) the segment; they fault only on their own operand or the descriptor read.
#include "vmm/cpu/insn_common.h"
#include "vmm/cpu/segments.h"

namespace densevm::cpu {
namespace {

template <bool kMem>
bool read_selector(Vcpu& v, const DecodedInsn& d, uint16_t& selector) {
  uint64_t raw;
  if constexpr (kMem) {
    if (!v.read<2>(v.effective_address(d), raw)) return false;
  } else {
    raw = v.reg<2>(d.reg);
  }
  selector = static_cast<uint16_t>(raw);
  return true;
}

template <bool kMem>
Exec lldt(Vcpu& v, const DecodedInsn& d) {
  CpuState& s = v.state();
  if (s.cpl != 0) return v.raise_gp0();
  uint16_t selector;
  if (!read_selector<kMem>(v, d, selector)) return Exec::kFault;
  if (selector_null(selector)) {
    s.ldtr = selector;
    return Exec::kNext;
  }
  if (selector & 4) return selector_fault(v, kVecGp, selector);  // must be in the GDT
  SegmentDescriptor ldt;
  if (!read_segment(v, selector, ldt)) return Exec::kFault;
  const uint64_t offset = selector & ~uint64_t{7};
  if (ldt.code_or_data() || ldt.type() != kTypeLdt || offset + 15 > s.gdtr.limit ||
      ldt.upper_type() != 0) {
    return selector_fault(v, kVecGp, selector);
  }
  if (!ldt.present()) return selector_fault(v, kVecNp, selector);
  const uint64_t base = ldt.system_base();
  if (!is_canonical(base)) return selector_fault(v, kVecGp, selector);
  s.ldtr = selector;
  s.ldt_base = base;
  s.ldt_limit = ldt.limit();
  return Exec::kNext;
}

// To memory 16 bits; to a register zero-extended to the operand size.
template <bool kMem>
Exec sldt(Vcpu& v, const DecodedInsn& d) {
  const uint16_t ldtr = v.state().ldtr;
  if constexpr (kMem) {
    return v.write<2>(v.effective_address(d), ldtr) ? Exec::kNext : Exec::kFault;
  } else {
    v.set_reg_sized(d.reg, d.size, ldtr);
    return Exec::kNext;
  }
}

// ZF = 1 when a data access at CPL with the selector's RPL may read (kWrite: write) the
// segment: a code or data segment whose DPL is at least CPL and RPL (conforming code: any
// DPL, readable only), readable (kWrite: writable data). Presence is not checked.
template <bool kWrite, bool kMem>
Exec verify(Vcpu& v, const DecodedInsn& d) {
  uint16_t selector;
  if (!read_selector<kMem>(v, d, selector)) return Exec::kFault;
  bool ok = false;
  SegmentDescriptor s;
  if (!selector_null(selector)) {
    if (v.read_descriptor(selector, s.low, s.high)) {
      const unsigned cpl = v.state().cpl, rpl = selector_rpl(selector);
      const bool privileged = s.dpl() >= cpl && s.dpl() >= rpl;
      if constexpr (kWrite) {
        ok = s.writable_data() && privileged;
      } else {
        ok = s.code_or_data() && s.readable() && (s.conforming() || privileged);
      }
    } else if (v.exception_pending()) {
      return Exec::kFault;  // the descriptor read's page fault
    }
  }
  v.set_arith_flags(kFlagZf, ok ? kFlagZf : 0);
  return Exec::kNext;
}

template <Handler kReg, Handler kMem>
bool build_reg_or_mem(const DecodeContext& c, DecodedInsn& d) {
  d.handler = c.kind[0] == OpKind::kMem ? kMem : kReg;
  return true;
}

}  // namespace

void register_descriptor_insns() {
  register_builder(ZYDIS_MNEMONIC_LLDT, &build_reg_or_mem<&lldt<false>, &lldt<true>>);
  register_builder(ZYDIS_MNEMONIC_SLDT, &build_reg_or_mem<&sldt<false>, &sldt<true>>);
  register_builder(ZYDIS_MNEMONIC_VERR,
                   &build_reg_or_mem<&verify<false, false>, &verify<false, true>>);
  register_builder(ZYDIS_MNEMONIC_VERW,
                   &build_reg_or_mem<&verify<true, false>, &verify<true, true>>);
}

}  // namespace densevm::cpu
