// Vcpu::save / Vcpu::restore: the vCPU's part of a checkpoint (core/persist.h).
#include "vmm/cpu/vcpu.h"

#include "vmm/cpu/jit/jit.h"

namespace densevm::cpu {

VcpuState Vcpu::save() const {
  VcpuState s;
  s.cpu = s_;
  s.cpu.rflags = rflags();  // the lazy arithmetic flags, materialized
  s.supervisor_override = supervisor_override_;
  s.insn_rip = insn_rip_;
  s.pending = pending_;
  s.last_exception = last_exception_;
  s.delivery_depth = delivery_depth_;
  s.deliver_exceptions = deliver_exceptions_;
  s.halted = halted_;
  s.interrupt_shadow = interrupt_shadow_;
  s.exit_requested = exit_requested_;
  s.stopped = stopped_;
  s.stop_message = stop_message_;
  s.counters = counters_;
  s.unimplemented_first = unimplemented_first_;
  return s;
}

void Vcpu::restore(const VcpuState& s, RestoredMemory memory) {
  // Checked before anything changes, so a corrupt record leaves the vCPU as it was.
  if (s.cpu.cpl != 0 && s.cpu.cpl != 3) throw StateError("vcpu record has a bad CPL");
  if (s.unimplemented_first.size() > kUnimplementedShown) {
    throw StateError("vcpu record lists too many mnemonics");
  }
  // What FLDCW, FXRSTOR and LDMXCSR would have refused or normalized is corruption.
  const FpuState& f = s.cpu.fpu;
  if ((f.fcw & ~kFcwWritable) != kFcwFixed1) throw StateError("vcpu record has a bad x87 control word");
  if (f.fop > 0x7ff) throw StateError("vcpu record has a bad x87 opcode");
  if (f.mxcsr & ~kMxcsrWritable) throw StateError("vcpu record has a bad MXCSR");

  s_ = s.cpu;
  lazy_.op = FlagOp::kNone;
  supervisor_override_ = s.supervisor_override;
  update_tlb_view();
  insn_rip_ = s.insn_rip;
  pending_ = s.pending;
  last_exception_ = s.last_exception;
  delivery_depth_ = s.delivery_depth;
  deliver_exceptions_ = s.deliver_exceptions;
  halted_ = s.halted;
  interrupt_shadow_ = s.interrupt_shadow;
  exit_requested_ = s.exit_requested;
  stopped_ = s.stopped;
  break_inner_ = false;
  stack_access_ = false;
  stop_message_ = s.stop_message;
  counters_ = s.counters;
  unimplemented_first_ = s.unimplemented_first;
  flush_tlb();
  if (memory == RestoredMemory::kReplaced) {
    code_.clear();
    if (jit_ != nullptr) jit_->flush();
  }
  // The MMU may cache per-CR3 state (shadow roots): announce the restored one as a load.
  if (s_.cr0 & kCr0Pg) mmu_.cr3_loaded(paging_context());
}

}  // namespace densevm::cpu
