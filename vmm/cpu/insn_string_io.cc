// String port I/O: INS and OUTS in byte, word and dword forms, with REP, either direction,
// 64- or 32-bit addressing, and an FS/GS source override for OUTS (SDM Vol 2A INS, Vol 2B
// OUTS). The I/O permission check (io_permission.h) comes first; INS checks its destination
// before it reads the port, so a page fault never swallows a byte a device handed out.
//
// REP forms do one element per handler call and leave RIP at the instruction until rCX is
// exhausted, so each element counts as one retired instruction and the run loop sees a
// device's exit request and pending interrupts between elements, as for the chunked string
// instructions of insn_string.cc.
#include "vmm/cpu/insn_common.h"
#include "vmm/cpu/io_permission.h"

namespace densevm::cpu {
namespace {

template <bool kIn, unsigned S>
Exec string_io(Vcpu& v, const DecodedInsn& d) {
  const uint64_t mask = d.addr32 ? 0xffffffffu : ~uint64_t{0};
  const bool rep = d.aux != 0;
  const uint64_t count = v.gpr(kRcx) & mask;
  if (rep && count == 0) return Exec::kNext;
  const auto port = static_cast<uint16_t>(v.reg<2>(kRdx));
  if (const Exec e = check_io_permission(v, port, S); e != Exec::kNext) return e;
  const uint64_t step = (v.state().rflags & kFlagDf) ? 0 - uint64_t{S} : uint64_t{S};
  if constexpr (kIn) {
    const uint64_t rdi = v.gpr(kRdi) & mask;
    if (!v.probe(rdi, Access::kWrite) || !v.probe(rdi + S - 1, Access::kWrite)) {
      return Exec::kFault;
    }
    if (!v.write<S>(rdi, v.bus().port_read(port, S))) return Exec::kFault;
    v.gpr(kRdi) = (rdi + step) & mask;
  } else {
    const uint64_t rsi = v.gpr(kRsi) & mask;
    const CpuState& s = v.state();
    const uint64_t base = d.seg == kSegFs ? s.fs_base : d.seg == kSegGs ? s.gs_base : 0;
    uint64_t value;
    if (!v.read<S>(base + rsi, value)) return Exec::kFault;
    v.bus().port_write(port, S, static_cast<uint32_t>(value));
    v.gpr(kRsi) = (rsi + step) & mask;
  }
  if (rep) {
    v.gpr(kRcx) = (count - 1) & mask;
    if (count > 1) v.state().rip = v.instruction_rip();
  }
  return Exec::kJump;  // a device may have asked the VM to exit
}

template <bool kIn>
bool build_string_io(const DecodeContext& c, DecodedInsn& d) {
  d.aux = c.has(ZYDIS_ATTRIB_HAS_REP) || c.has(ZYDIS_ATTRIB_HAS_REPE) ||
          c.has(ZYDIS_ATTRIB_HAS_REPNE);
  d.seg = kSegNone;
  for (unsigned i = 0; i < c.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = c.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    if (op.mem.segment == ZYDIS_REGISTER_FS) d.seg = kSegFs;
    if (op.mem.segment == ZYDIS_REGISTER_GS) d.seg = kSegGs;
  }
  switch (d.size) {
    case 1: d.handler = &string_io<kIn, 1>; break;
    case 2: d.handler = &string_io<kIn, 2>; break;
    case 4: d.handler = &string_io<kIn, 4>; break;
    default: return false;
  }
  return true;
}

}  // namespace

void register_string_io() {
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD}) {
    register_builder(m, &build_string_io<true>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD}) {
    register_builder(m, &build_string_io<false>);
  }
}

}  // namespace densevm::cpu
