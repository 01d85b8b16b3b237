// Privilege and flag transfers: CLI STI PUSHFQ POPFQ, IRETQ, SYSCALL SYSRETQ SWAPGS, INT3
// and INT n (SDM Vol 2, 64-bit mode only); far JMP/CALL/RET are in insn_far.cc.
//
// Every check comes before the first state change, so a faulting IRETQ or SYSRETQ leaves
// the vCPU as it was and the exception reports the instruction itself. Returns to an outer
// ring do not null DS/ES/FS/GS (segment registers hold selectors only, see insn_system.cc);
// compatibility mode (#GP(selector), segments.h), 16- and 32-bit IRET and SYSRET are not
// modelled (#UD: the decoder's unimplemented path).
#include <utility>

#include "vmm/cpu/insn_common.h"
#include "vmm/cpu/segments.h"

namespace densevm::cpu {
namespace {

bool kernel(const Vcpu& v) { return v.state().cpl == 0; }

// IOPL is not an arithmetic flag, so the stored RFLAGS holds it even while flags are lazy.
unsigned iopl(const Vcpu& v) {
  return static_cast<unsigned>((v.state().rflags & kFlagIopl) >> 12);
}

// RFLAGS bits POPF and IRET may load at `cpl` (SDM Vol 2B POPF, Vol 2A IRET): IOPL only in
// ring 0, IF only when CPL <= IOPL. VM, VIF and VIP are not modelled and stay 0.
uint64_t loadable_flags(unsigned cpl, unsigned io_privilege) {
  uint64_t mask = kFlagsWritable;
  if (cpl > 0) mask &= ~kFlagIopl;
  if (cpl > io_privilege) mask &= ~kFlagIf;
  return mask;
}

// Loads the `mask` bits of a popped RFLAGS image. When IF goes from 0 to 1 the run loop
// must look at pending interrupts before going on.
void load_flags(Vcpu& v, uint64_t image, uint64_t mask) {
  const uint64_t old = v.rflags();
  const uint64_t now = (old & ~mask) | (image & mask);
  v.set_rflags(now);
  if (!(old & kFlagIf) && (now & kFlagIf)) v.recheck_events();
}

Exec cli(Vcpu& v, const DecodedInsn&) {
  if (v.state().cpl > iopl(v)) return v.raise_gp0();
  v.set_rflags(v.rflags() & ~kFlagIf);
  return Exec::kNext;
}

// STI blocks interrupts for one more instruction, so "sti; hlt" cannot miss a wake-up.
Exec sti(Vcpu& v, const DecodedInsn&) {
  if (v.state().cpl > iopl(v)) return v.raise_gp0();
  const uint64_t flags = v.rflags();
  if (flags & kFlagIf) return Exec::kNext;
  v.set_rflags(flags | kFlagIf);
  v.set_interrupt_shadow();
  return Exec::kJump;
}

// The pushed image has RF and VM clear.
Exec pushfq(Vcpu& v, const DecodedInsn&) {
  return v.push(v.rflags() & ~kFlagRf) ? Exec::kNext : Exec::kFault;
}

// RF is cleared; a ring-3 POPF silently keeps IOPL, and IF unless IOPL is 3.
Exec popfq(Vcpu& v, const DecodedInsn&) {
  uint64_t image;
  if (!v.pop(image)) return Exec::kFault;
  load_flags(v, image & ~kFlagRf, loadable_flags(v.state().cpl, iopl(v)));
  return Exec::kJump;
}

// IRETQ (SDM Vol 2A IRET, IA-32e mode): pops RIP, CS, RFLAGS, RSP and SS, always, to the
// same ring or an outer one. The flags follow the POPF rules of the ring being left.
Exec iretq(Vcpu& v, const DecodedInsn&) {
  CpuState& s = v.state();
  if (v.rflags() & kFlagNt) return v.raise_gp0();  // a task return: there are no tasks
  uint64_t frame[5];  // RIP, CS, RFLAGS, RSP, SS
  v.mark_stack_access();
  if (!v.read_bytes(s.gpr[kRsp], frame, sizeof frame)) return Exec::kFault;
  const auto cs = static_cast<uint16_t>(frame[1]);
  const auto ss = static_cast<uint16_t>(frame[4]);
  const unsigned new_cpl = selector_rpl(cs);
  if (selector_null(cs)) return v.raise_gp0();
  if (new_cpl < s.cpl) return selector_fault(v, kVecGp, cs);
  if (const Exec e = check_return_code_segment(v, cs); e != Exec::kNext) return e;
  if (!is_canonical(frame[0])) return v.raise_gp0();
  if (const Exec e = check_stack_segment(v, ss, new_cpl); e != Exec::kNext) return e;

  load_flags(v, frame[2], loadable_flags(s.cpl, iopl(v)));
  s.rip = frame[0];
  s.cs = cs;
  s.ss = ss;
  s.gpr[kRsp] = frame[3];
  v.set_cpl(static_cast<uint8_t>(new_cpl));
  return Exec::kJump;
}

// SYSCALL (SDM Vol 2B): ring 0 at LSTAR with CS and SS from STAR[47:32], RCX = next RIP,
// R11 = RFLAGS, then RFLAGS &= ~FMASK (and RF cleared). No descriptor is read.
Exec syscall_insn(Vcpu& v, const DecodedInsn&) {
  CpuState& s = v.state();
  if (!(s.efer & kEferSce)) return v.raise(kVecUd);
  const uint64_t flags = v.rflags();
  const auto selector = static_cast<uint16_t>(s.star >> 32);
  s.gpr[kRcx] = s.rip;
  s.gpr[kR11] = flags;
  s.cs = selector & 0xfffc;
  s.ss = static_cast<uint16_t>(selector + 8);
  s.rip = s.lstar;
  v.set_rflags(flags & ~s.fmask & ~kFlagRf);
  v.set_cpl(0);
  return Exec::kJump;
}

// SYSRETQ (SDM Vol 2B SYSRET): back to ring 3 at RCX with RFLAGS from R11; CS and SS from
// STAR[63:48]. A non-canonical RCX is #GP(0) in ring 0 (Intel's behaviour).
Exec sysretq(Vcpu& v, const DecodedInsn&) {
  CpuState& s = v.state();
  if (!(s.efer & kEferSce)) return v.raise(kVecUd);
  if (!kernel(v) || !is_canonical(s.gpr[kRcx])) return v.raise_gp0();
  const auto selector = static_cast<uint16_t>(s.star >> 48);
  s.cs = static_cast<uint16_t>((selector + 16) | 3);
  s.ss = static_cast<uint16_t>((selector + 8) | 3);
  s.rip = s.gpr[kRcx];
  v.set_rflags(s.gpr[kR11] & ~kFlagRf);  // 3C7FD7H | 2: VM, VIF, VIP do not exist here
  v.set_cpl(3);
  return Exec::kJump;
}

Exec swapgs(Vcpu& v, const DecodedInsn&) {
  if (!kernel(v)) return v.raise_gp0();
  CpuState& s = v.state();
  std::swap(s.gs_base, s.kernel_gs_base);
  return Exec::kNext;
}

Exec int3(Vcpu& v, const DecodedInsn&) { return v.software_interrupt(kVecBp); }

Exec int_n(Vcpu& v, const DecodedInsn& d) {
  return v.software_interrupt(static_cast<uint8_t>(d.imm));
}

template <Handler kFn, unsigned kSize>
bool build_sized(const DecodeContext&, DecodedInsn& d) {
  if (kSize != 0 && d.size != kSize) return false;
  d.handler = kFn;
  return true;
}

}  // namespace

void register_privilege_transfers() {
  register_builder(ZYDIS_MNEMONIC_CLI, &build_sized<&cli, 0>);
  register_builder(ZYDIS_MNEMONIC_STI, &build_sized<&sti, 0>);
  register_builder(ZYDIS_MNEMONIC_PUSHFQ, &build_sized<&pushfq, 8>);
  register_builder(ZYDIS_MNEMONIC_POPFQ, &build_sized<&popfq, 8>);
  register_builder(ZYDIS_MNEMONIC_IRETQ, &build_sized<&iretq, 8>);
  register_builder(ZYDIS_MNEMONIC_SYSCALL, &build_sized<&syscall_insn, 0>);
  register_builder(ZYDIS_MNEMONIC_SYSRET, &build_sized<&sysretq, 8>);
  register_builder(ZYDIS_MNEMONIC_SWAPGS, &build_sized<&swapgs, 0>);
  register_builder(ZYDIS_MNEMONIC_INT3, &build_sized<&int3, 0>);
  register_builder(ZYDIS_MNEMONIC_INT, &build_sized<&int_n, 0>);
}

}  // namespace densevm::cpu
