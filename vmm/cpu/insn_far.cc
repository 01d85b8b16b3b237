// Far transfers in 64-bit mode: JMP and CALL through a memory far pointer (m16:16, m16:32,
// m16:64), and far RET to the same or an outer ring (SDM Vol 2A JMP, CALL, Vol 2B RET;
// Vol 3A §5.8 privilege checks).
//
// A far JMP or CALL goes to a code segment (conforming: DPL <= CPL; non-conforming: DPL =
// CPL and RPL <= CPL) or through a 64-bit call gate (gate DPL >= CPL and RPL; a CALL may
// enter an inner ring, switching to the TSS stack of that ring and pushing the old SS:RSP).
// Anything else in IA-32e mode (data, TSS, LDT, task gate, null) is #GP(selector), or #GP(0)
// for null. Every check comes before the first state change, so a fault leaves the vCPU as
// it was. Data segment registers are not nulled by a return to an outer ring (segment
// registers hold selectors only, see insn_system.cc).
#include "vmm/cpu/insn_common.h"
#include "vmm/cpu/segments.h"

namespace densevm::cpu {
namespace {

struct FarTarget {
  uint16_t cs = 0;     // with RPL = the new CPL
  uint64_t rip = 0;
  unsigned cpl = 0;    // below the current CPL only for a CALL through a gate
  bool gate = false;   // through a call gate: the pushes are 64-bit
};

// The code segment a pointer or gate names, checked for a transfer from the current CPL
// (`call` through a gate may enter an inner ring). kNext with t.cs and t.cpl filled in.
Exec check_target_code(Vcpu& v, uint16_t selector, const SegmentDescriptor& c, bool through_gate,
                       bool call, FarTarget& t) {
  const unsigned cpl = v.state().cpl;
  if (!c.code() || !c.code64()) return selector_fault(v, kVecGp, selector);  // L=D=1, or L=0
  bool allowed;
  if (c.conforming()) allowed = c.dpl() <= cpl;
  else if (through_gate) allowed = call ? c.dpl() <= cpl : c.dpl() == cpl;
  else allowed = c.dpl() == cpl && selector_rpl(selector) <= cpl;
  if (!allowed) return selector_fault(v, kVecGp, selector);
  if (!c.present()) return selector_fault(v, kVecNp, selector);
  t.cpl = c.conforming() ? cpl : c.dpl();
  t.cs = static_cast<uint16_t>((selector & 0xfffc) | t.cpl);
  return Exec::kNext;
}

Exec resolve_far_target(Vcpu& v, uint16_t selector, uint64_t offset, bool call, FarTarget& t) {
  if (selector_null(selector)) return v.raise_gp0();
  SegmentDescriptor d;
  if (!read_segment(v, selector, d)) return Exec::kFault;
  if (d.code_or_data()) {
    if (const Exec e = check_target_code(v, selector, d, false, call, t); e != Exec::kNext) return e;
    t.rip = offset;
  } else if (d.type() == kTypeCallGate64) {
    const unsigned cpl = v.state().cpl;
    if (d.dpl() < cpl || d.dpl() < selector_rpl(selector)) {
      return selector_fault(v, kVecGp, selector);
    }
    if (!d.present()) return selector_fault(v, kVecNp, selector);
    if (d.upper_type() != 0) return selector_fault(v, kVecGp, selector);
    const auto code = static_cast<uint16_t>(d.low >> 16);
    if (selector_null(code)) return v.raise_gp0();
    SegmentDescriptor c;
    if (!read_segment(v, code, c)) return Exec::kFault;
    if (const Exec e = check_target_code(v, code, c, true, call, t); e != Exec::kNext) return e;
    t.rip = (d.low & 0xffff) | ((d.low >> 32) & 0xffff0000) | ((d.high & 0xffffffff) << 32);
    t.gate = true;
  } else {
    return selector_fault(v, kVecGp, selector);  // TSS, LDT, task/interrupt/trap gate
  }
  return is_canonical(t.rip) ? Exec::kNext : v.raise_gp0();
}

// Reads the pointer m16:S at the operand: the S-byte offset, then the selector.
template <unsigned S>
bool read_far_pointer(Vcpu& v, const DecodedInsn& d, uint64_t& offset, uint16_t& selector) {
  const uint64_t at = v.effective_address(d);
  uint64_t raw;
  if (!v.read<S>(at, offset) || !v.read<2>(at + S, raw)) return false;
  selector = static_cast<uint16_t>(raw);
  return true;
}

template <unsigned S>
Exec far_jmp(Vcpu& v, const DecodedInsn& d) {
  uint64_t offset;
  uint16_t selector;
  if (!read_far_pointer<S>(v, d, offset, selector)) return Exec::kFault;
  FarTarget t;
  if (const Exec e = resolve_far_target(v, selector, offset, false, t); e != Exec::kNext) return e;
  CpuState& s = v.state();
  s.cs = t.cs;
  s.rip = t.rip;
  return Exec::kJump;
}

// Pushes CS and the return RIP (S bytes each; 8 through a gate). Into an inner ring the
// stack is the TSS's RSP for that ring, under a null SS of that RPL, and the old SS and RSP
// go first (SDM Vol 3A §5.8.5, IA-32e mode).
template <unsigned S>
Exec far_call(Vcpu& v, const DecodedInsn& d) {
  uint64_t offset;
  uint16_t selector;
  if (!read_far_pointer<S>(v, d, offset, selector)) return Exec::kFault;
  FarTarget t;
  if (const Exec e = resolve_far_target(v, selector, offset, true, t); e != Exec::kNext) return e;
  CpuState& s = v.state();
  if (t.cpl < s.cpl) {
    uint64_t rsp;
    if (!v.read_system(s.tss_base + 4 + 8 * t.cpl, &rsp, 8)) return Exec::kFault;
    if (!is_canonical(rsp)) return v.raise(kVecSs, 0);
    const uint64_t frame[4] = {s.rip, s.cs, s.gpr[kRsp], s.ss};  // lowest address first
    if (!v.write_supervisor_stack(rsp - sizeof frame, frame, sizeof frame)) return Exec::kFault;
    s.gpr[kRsp] = rsp - sizeof frame;
    s.ss = static_cast<uint16_t>(t.cpl);
  } else {
    const unsigned slot = t.gate ? 8 : S;
    const uint64_t rsp = s.gpr[kRsp];
    v.mark_stack_access();
    if (!v.write_sized(rsp - slot, slot, s.cs) ||
        !v.write_sized(rsp - 2 * slot, slot, s.rip & size_mask(slot))) {
      return Exec::kFault;
    }
    s.gpr[kRsp] = rsp - 2 * slot;
  }
  s.cs = t.cs;
  s.rip = t.rip;
  if (t.cpl != s.cpl) v.set_cpl(static_cast<uint8_t>(t.cpl));
  return Exec::kJump;
}

// Far RET (SDM Vol 2B RET): pops RIP and CS of size S, then releases `imm` more bytes. To an
// outer ring it then pops RSP and SS (checked as IRET checks them) and releases `imm` bytes
// of the outer stack too.
template <unsigned S>
Exec far_ret(Vcpu& v, const DecodedInsn& d) {
  CpuState& s = v.state();
  const uint64_t rsp = s.gpr[kRsp];
  v.mark_stack_access();
  uint64_t rip, cs_image;
  if (!v.read<S>(rsp, rip) || !v.read<S>(rsp + S, cs_image)) return Exec::kFault;
  const auto cs = static_cast<uint16_t>(cs_image);
  const unsigned new_cpl = selector_rpl(cs);
  if (selector_null(cs)) return v.raise_gp0();
  if (new_cpl < s.cpl) return selector_fault(v, kVecGp, cs);
  if (const Exec e = check_return_code_segment(v, cs); e != Exec::kNext) return e;
  if (new_cpl == s.cpl) {
    if (!is_canonical(rip)) return v.raise_gp0();
    s.rip = rip;
    s.cs = cs;
    s.gpr[kRsp] = rsp + 2 * S + d.imm;
    return Exec::kJump;
  }
  const uint64_t outer = rsp + 2 * S + d.imm;
  uint64_t new_rsp, ss_image;
  v.mark_stack_access();
  if (!v.read<S>(outer, new_rsp) || !v.read<S>(outer + S, ss_image)) return Exec::kFault;
  const auto ss = static_cast<uint16_t>(ss_image);
  if (const Exec e = check_stack_segment(v, ss, new_cpl); e != Exec::kNext) return e;
  if (!is_canonical(rip)) return v.raise_gp0();
  s.rip = rip;
  s.cs = cs;
  s.ss = ss;
  s.gpr[kRsp] = new_rsp + d.imm;
  v.set_cpl(static_cast<uint8_t>(new_cpl));
  return Exec::kJump;
}

template <template <unsigned> class Fn>
bool build_far(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem) return false;  // ptr16:32 forms do not exist in 64-bit mode
  switch (d.size) {
    case 2: d.handler = &Fn<2>::run; break;
    case 4: d.handler = &Fn<4>::run; break;
    case 8: d.handler = &Fn<8>::run; break;
    default: return false;
  }
  return true;
}

template <unsigned S>
struct FarJmp {
  static Exec run(Vcpu& v, const DecodedInsn& d) { return far_jmp<S>(v, d); }
};
template <unsigned S>
struct FarCall {
  static Exec run(Vcpu& v, const DecodedInsn& d) { return far_call<S>(v, d); }
};

}  // namespace

bool build_far_jmp(const DecodeContext& c, DecodedInsn& d) { return build_far<FarJmp>(c, d); }
bool build_far_call(const DecodeContext& c, DecodedInsn& d) { return build_far<FarCall>(c, d); }

bool build_far_ret(const DecodeContext& c, DecodedInsn& d) {
  d.imm = c.kind[0] == OpKind::kImm ? (d.imm & 0xffff) : 0;
  if (d.size == 8) d.handler = &far_ret<8>;
  else if (d.size == 4) d.handler = &far_ret<4>;
  else return false;
  return true;
}

}  // namespace densevm::cpu
