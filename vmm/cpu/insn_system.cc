// System instructions: MOV to and from control and segment registers, CLTS, LGDT LIDT SGDT
// SIDT LTR STR, INVLPG, IN/OUT, HLT, RDMSR/WRMSR, RDTSC, CPUID and UD2. Privilege and flag
// transfers (CLI/STI, POPF, IRETQ, SYSCALL/SYSRET, INT n) are in insn_privilege.cc, far
// transfers in insn_far.cc, the other groups register_system() adds in their own files.
//
// Each follows its SDM Vol 2 page, 64-bit mode only. Privileged instructions raise #GP(0)
// outside ring 0. Segment registers hold selectors only: FS/GS bases come from the MSRs and
// SWAPGS, as 64-bit kernels set them, so a selector load leaves the bases alone.
#include <cstring>
#include <iterator>

#include "core/x86_pte.h"
#include "vmm/cpu/cpuid.h"
#include "vmm/cpu/insn_common.h"
#include "vmm/cpu/io_permission.h"
#include "vmm/cpu/segments.h"

namespace densevm::cpu {
namespace {

bool kernel(const Vcpu& v) { return v.state().cpl == 0; }

// ---- control registers (SDM Vol 2B MOV—Move to/from Control Registers) ----

constexpr uint64_t kCr0Mp = 1u << 1, kCr0Em = 1u << 2, kCr0Et = 1u << 4,
                   kCr0Ne = 1u << 5, kCr0Am = 1u << 18, kCr0Nw = 1u << 29, kCr0Cd = 1u << 30;
constexpr uint64_t kCr0Defined = kCr0Pe | kCr0Mp | kCr0Em | kCr0Ts | kCr0Et | kCr0Ne | kCr0Wp |
                                 kCr0Am | kCr0Nw | kCr0Cd | kCr0Pg;

// Long mode cannot be left: clearing PG or PE, or setting bits 63:32, is #GP(0).
Exec write_cr0(Vcpu& v, uint64_t value) {
  if ((value >> 32) || !(value & kCr0Pg) || !(value & kCr0Pe)) return v.raise_gp0();
  if ((value & kCr0Nw) && !(value & kCr0Cd)) return v.raise_gp0();
  v.write_cr0((value & kCr0Defined) | kCr0Et);  // ET is hardwired to 1
  return Exec::kJump;
}

Exec mov_to_cr(Vcpu& v, const DecodedInsn& d) {
  if (!kernel(v)) return v.raise_gp0();
  const uint64_t value = v.gpr(d.reg);
  switch (d.aux) {
    case 0:
      return write_cr0(v, value);
    case 2:
      v.state().cr2 = value;
      return Exec::kNext;
    case 3:
      if (value >> kGuestMaxPhysAddrBits) return v.raise_gp0();  // no PCIDs: bit 63 reserved
      v.write_cr3(value);
      return Exec::kJump;
    case 4:
      if ((value & ~kCr4Allowed) || !(value & kCr4Pae)) return v.raise_gp0();
      v.write_cr4(value);
      return Exec::kJump;
    case 8:
      // The task priority is not modelled: CR8 reads 0 and ignores valid writes.
      return (value >> 4) ? v.raise_gp0() : Exec::kNext;
    default:
      return v.raise(kVecUd);
  }
}

// CLTS (SDM Vol 2A): clears CR0.TS, which changes no translation.
Exec clts(Vcpu& v, const DecodedInsn&) {
  if (!kernel(v)) return v.raise_gp0();
  v.state().cr0 &= ~kCr0Ts;
  return Exec::kNext;
}

Exec mov_from_cr(Vcpu& v, const DecodedInsn& d) {
  if (!kernel(v)) return v.raise_gp0();
  const CpuState& s = v.state();
  uint64_t value;
  switch (d.aux) {
    case 0: value = s.cr0; break;
    case 2: value = s.cr2; break;
    case 3: value = s.cr3; break;
    case 4: value = s.cr4; break;
    case 8: value = 0; break;
    default: return v.raise(kVecUd);
  }
  v.gpr(d.reg) = value;
  return Exec::kNext;
}

// ---- segment registers (SDM Vol 2B MOV) ----

// Zydis segment register ids: ES CS SS DS FS GS.
constexpr uint16_t CpuState::*kSegments[] = {&CpuState::es, &CpuState::cs, &CpuState::ss,
                                             &CpuState::ds, &CpuState::fs, &CpuState::gs};
constexpr unsigned kSegSs = 2;

template <bool kMem>
Exec mov_to_seg(Vcpu& v, const DecodedInsn& d) {
  uint64_t raw;
  if constexpr (kMem) {
    if (!v.read<2>(v.effective_address(d), raw)) return Exec::kFault;
  } else {
    raw = v.reg<2>(d.reg);
  }
  const auto selector = static_cast<uint16_t>(raw);
  CpuState& s = v.state();
  if (d.aux == kSegSs) {
    if (const Exec e = check_stack_segment(v, selector, s.cpl); e != Exec::kNext) return e;
    s.ss = selector;
    v.set_interrupt_shadow();  // so that MOV SS; MOV RSP switch stacks atomically
    return Exec::kJump;
  }
  if (const Exec e = check_data_segment(v, selector); e != Exec::kNext) return e;
  s.*kSegments[d.aux] = selector;
  return Exec::kNext;
}

// To memory always 16 bits; to a register zero-extended to 32 or 64 bits.
template <bool kMem>
Exec mov_from_seg(Vcpu& v, const DecodedInsn& d) {
  const uint16_t selector = v.state().*kSegments[d.aux];
  if constexpr (kMem) {
    return v.write<2>(v.effective_address(d), selector) ? Exec::kNext : Exec::kFault;
  } else {
    v.set_reg_sized(d.reg, d.size, selector);
    return Exec::kNext;
  }
}

ZydisRegisterClass reg_class(const DecodeContext& c, unsigned i) {
  return c.kind[i] == OpKind::kReg ? ZydisRegisterGetClass(c.ops[i].reg.value)
                                   : ZYDIS_REGCLASS_INVALID;
}

uint8_t reg_id(const DecodeContext& c, unsigned i) {
  return static_cast<uint8_t>(ZydisRegisterGetId(c.ops[i].reg.value));
}

// ---- descriptor tables and the task register (SDM Vol 2A LGDT/LIDT, Vol 2B SGDT, LTR) ----

template <bool kIdt>
Exec load_table(Vcpu& v, const DecodedInsn& d) {
  if (!kernel(v)) return v.raise_gp0();
  const uint64_t addr = v.effective_address(d);
  uint64_t limit, base;
  if (!v.read<2>(addr, limit) || !v.read<8>(addr + 2, base)) return Exec::kFault;
  if (!is_canonical(base)) return v.raise_gp0();  // 64-bit mode: the base must be canonical
  DescriptorTable& table = kIdt ? v.state().idtr : v.state().gdtr;
  table = {base, static_cast<uint16_t>(limit)};
  return Exec::kNext;
}

// Allowed in ring 3: CPUID does not advertise UMIP.
template <bool kIdt>
Exec store_table(Vcpu& v, const DecodedInsn& d) {
  const DescriptorTable& table = kIdt ? v.state().idtr : v.state().gdtr;
  uint8_t image[10];
  std::memcpy(image, &table.limit, 2);
  std::memcpy(image + 2, &table.base, 8);
  return v.write_bytes(v.effective_address(d), image, sizeof image) ? Exec::kNext : Exec::kFault;
}

// LTR: the selector must name an available 64-bit TSS (a 16-byte descriptor inside the
// GDT); LTR marks it busy in memory and caches its base and limit.
template <bool kMem>
Exec ltr(Vcpu& v, const DecodedInsn& d) {
  if (!kernel(v)) return v.raise_gp0();
  uint64_t raw;
  if constexpr (kMem) {
    if (!v.read<2>(v.effective_address(d), raw)) return Exec::kFault;
  } else {
    raw = v.reg<2>(d.reg);
  }
  const auto selector = static_cast<uint16_t>(raw);
  if (selector_null(selector)) return v.raise_gp0();
  if (selector & 4) return selector_fault(v, kVecGp, selector);  // must be in the GDT
  SegmentDescriptor tss;
  if (!read_segment(v, selector, tss)) return Exec::kFault;
  CpuState& s = v.state();
  const uint64_t offset = selector & ~uint64_t{7};
  if (tss.code_or_data() || tss.type() != kTypeTss64Available || offset + 15 > s.gdtr.limit ||
      tss.upper_type() != 0) {
    return selector_fault(v, kVecGp, selector);
  }
  if (!tss.present()) return selector_fault(v, kVecNp, selector);
  const uint64_t base = tss.system_base();
  if (!is_canonical(base)) return selector_fault(v, kVecGp, selector);
  const uint64_t busy = (tss.low & ~(uint64_t{0xf} << 40)) | (uint64_t{kTypeTss64Busy} << 40);
  if (!v.write<8>(s.gdtr.base + offset, busy)) return Exec::kFault;
  s.tr = selector;
  s.tss_base = base;
  s.tss_limit = tss.limit();
  return Exec::kNext;
}

template <bool kMem>
Exec str(Vcpu& v, const DecodedInsn& d) {
  const uint16_t tr = v.state().tr;
  if constexpr (kMem) {
    return v.write<2>(v.effective_address(d), tr) ? Exec::kNext : Exec::kFault;
  } else {
    v.set_reg_sized(d.reg, d.size, tr);
    return Exec::kNext;
  }
}

// A non-canonical address makes INVLPG a no-op (SDM Vol 2A INVLPG).
Exec invlpg(Vcpu& v, const DecodedInsn& d) {
  if (!kernel(v)) return v.raise_gp0();
  const uint64_t va = v.effective_address(d);
  if (is_canonical(va)) v.invlpg(va);
  return Exec::kJump;
}

// ---- port I/O (SDM Vol 2A IN, Vol 2B OUT): above IOPL the TSS I/O bitmap decides
// (io_permission.h). kJump: a device may have asked the VM to exit. ----

template <bool kImmPort>
uint16_t port_of(Vcpu& v, const DecodedInsn& d) {
  if constexpr (kImmPort) return static_cast<uint16_t>(d.imm & 0xff);
  return static_cast<uint16_t>(v.reg<2>(kRdx));
}

template <bool kImmPort>
Exec in(Vcpu& v, const DecodedInsn& d) {
  const uint16_t port = port_of<kImmPort>(v, d);
  if (const Exec e = check_io_permission(v, port, d.size); e != Exec::kNext) return e;
  const uint32_t value = v.bus().port_read(port, d.size);
  v.set_reg_sized(kRax, d.size, value & size_mask(d.size));
  return Exec::kJump;
}

template <bool kImmPort>
Exec out(Vcpu& v, const DecodedInsn& d) {
  const uint16_t port = port_of<kImmPort>(v, d);
  if (const Exec e = check_io_permission(v, port, d.size); e != Exec::kNext) return e;
  const auto value = static_cast<uint32_t>(v.reg_sized(kRax, d.size));
  v.bus().port_write(port, d.size, value);
  return Exec::kJump;
}

// ---- machine state ----

Exec hlt(Vcpu& v, const DecodedInsn&) { return kernel(v) ? Exec::kHalt : v.raise_gp0(); }

Exec rdmsr(Vcpu& v, const DecodedInsn&) {
  uint64_t value;
  if (!kernel(v) || !v.read_msr(static_cast<uint32_t>(v.reg<4>(kRcx)), value)) {
    return v.raise_gp0();
  }
  v.set_reg<4>(kRax, value & 0xffffffff);
  v.set_reg<4>(kRdx, value >> 32);
  return Exec::kNext;
}

Exec wrmsr(Vcpu& v, const DecodedInsn&) {
  const uint64_t value = (v.reg<4>(kRdx) << 32) | v.reg<4>(kRax);
  if (!kernel(v) || !v.write_msr(static_cast<uint32_t>(v.reg<4>(kRcx)), value)) {
    return v.raise_gp0();
  }
  return Exec::kJump;  // EFER, STAR and friends change what later instructions do
}

Exec rdtsc(Vcpu& v, const DecodedInsn&) {
  if ((v.state().cr4 & kCr4Tsd) && !kernel(v)) return v.raise_gp0();
  const uint64_t tsc = v.tsc();
  v.set_reg<4>(kRax, tsc & 0xffffffff);
  v.set_reg<4>(kRdx, tsc >> 32);
  return Exec::kNext;
}

Exec cpuid_insn(Vcpu& v, const DecodedInsn&) {
  const CpuidResult r =
      cpuid(static_cast<uint32_t>(v.reg<4>(kRax)), static_cast<uint32_t>(v.reg<4>(kRcx)));
  v.set_reg<4>(kRax, r.eax);
  v.set_reg<4>(kRbx, r.ebx);
  v.set_reg<4>(kRcx, r.ecx);
  v.set_reg<4>(kRdx, r.edx);
  return Exec::kNext;
}

Exec undefined(Vcpu& v, const DecodedInsn&) { return v.raise(kVecUd); }

// ---- builders ----

template <Handler kFn>
bool build_plain(const DecodeContext&, DecodedInsn& d) {
  d.handler = kFn;
  return true;
}

template <Handler kReg, Handler kMem>
bool build_reg_or_mem(const DecodeContext& c, DecodedInsn& d) {
  d.handler = c.kind[0] == OpKind::kMem ? kMem : kReg;
  return true;
}

template <Handler kFn>
bool build_mem_only(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem) return false;
  d.handler = kFn;
  return true;
}

// IN acc, port / OUT port, acc: the port is an 8-bit immediate or DX.
template <Handler kImm, Handler kDx>
bool build_io(const DecodeContext& c, DecodedInsn& d) {
  const bool imm = c.kind[0] == OpKind::kImm || c.kind[1] == OpKind::kImm;
  if (d.size != 1 && d.size != 2 && d.size != 4) return false;
  d.handler = imm ? kImm : kDx;
  return true;
}

}  // namespace

bool build_mov_system(const DecodeContext& c, DecodedInsn& d) {
  if (reg_class(c, 0) == ZYDIS_REGCLASS_CONTROL) {
    d.aux = reg_id(c, 0);
    d.handler = &mov_to_cr;
  } else if (reg_class(c, 1) == ZYDIS_REGCLASS_CONTROL) {
    d.aux = reg_id(c, 1);
    d.handler = &mov_from_cr;
  } else if (reg_class(c, 0) == ZYDIS_REGCLASS_SEGMENT) {
    d.aux = reg_id(c, 0);
    if (d.aux >= std::size(kSegments) || c.ops[0].reg.value == ZYDIS_REGISTER_CS) return false;
    d.handler = c.kind[1] == OpKind::kMem ? &mov_to_seg<true> : &mov_to_seg<false>;
  } else if (reg_class(c, 1) == ZYDIS_REGCLASS_SEGMENT) {
    d.aux = reg_id(c, 1);
    if (d.aux >= std::size(kSegments)) return false;
    d.handler = c.kind[0] == OpKind::kMem ? &mov_from_seg<true> : &mov_from_seg<false>;
  } else {
    return build_mov_debug(c, d);
  }
  return true;
}

void register_system() {
  register_builder(ZYDIS_MNEMONIC_LGDT, &build_mem_only<&load_table<false>>);
  register_builder(ZYDIS_MNEMONIC_LIDT, &build_mem_only<&load_table<true>>);
  register_builder(ZYDIS_MNEMONIC_SGDT, &build_mem_only<&store_table<false>>);
  register_builder(ZYDIS_MNEMONIC_SIDT, &build_mem_only<&store_table<true>>);
  register_builder(ZYDIS_MNEMONIC_LTR, &build_reg_or_mem<&ltr<false>, &ltr<true>>);
  register_builder(ZYDIS_MNEMONIC_STR, &build_reg_or_mem<&str<false>, &str<true>>);
  register_builder(ZYDIS_MNEMONIC_INVLPG, &build_mem_only<&invlpg>);
  register_builder(ZYDIS_MNEMONIC_IN, &build_io<&in<true>, &in<false>>);
  register_builder(ZYDIS_MNEMONIC_OUT, &build_io<&out<true>, &out<false>>);
  register_builder(ZYDIS_MNEMONIC_HLT, &build_plain<&hlt>);
  register_builder(ZYDIS_MNEMONIC_RDMSR, &build_plain<&rdmsr>);
  register_builder(ZYDIS_MNEMONIC_WRMSR, &build_plain<&wrmsr>);
  register_builder(ZYDIS_MNEMONIC_RDTSC, &build_plain<&rdtsc>);
  register_builder(ZYDIS_MNEMONIC_CPUID, &build_plain<&cpuid_insn>);
  register_builder(ZYDIS_MNEMONIC_UD0, &build_plain<&undefined>);
  register_builder(ZYDIS_MNEMONIC_UD1, &build_plain<&undefined>);
  register_builder(ZYDIS_MNEMONIC_UD2, &build_plain<&undefined>);
  register_builder(ZYDIS_MNEMONIC_CLTS, &build_plain<&clts>);
  register_privilege_transfers();
  register_cache_control();
  register_descriptor_insns();
  register_string_io();
  register_absent_features();
}

}  // namespace densevm::cpu
