// Vcpu::save / Vcpu::restore: the vCPU's part of a checkpoint (see vmm/snapshot_state.h).
#include "vmm/cpu/vcpu.h"

#include "vmm/cpu/fpu_snapshot.h"
#include "vmm/cpu/jit/jit.h"

namespace densevm::cpu {
namespace {

constexpr size_t kMaxStopMessage = 4096;
constexpr size_t kMaxMnemonic = 64;

void save_exception(StateWriter& w, const PendingException& e) {
  w.boolean(e.valid);
  w.u8(e.vector);
  w.boolean(e.has_error);
  w.u32(e.error_code);
}

PendingException restore_exception(StateReader& r) {
  PendingException e;
  e.valid = r.boolean();
  e.vector = r.u8();
  e.has_error = r.boolean();
  e.error_code = r.u32();
  return e;
}

}  // namespace

void Vcpu::save(StateWriter& w) const {
  for (uint64_t g : s_.gpr) w.u64(g);
  w.u64(s_.rip);
  w.u64(rflags());  // the lazy arithmetic flags, materialized
  for (uint64_t v : {s_.cr0, s_.cr2, s_.cr3, s_.cr4, s_.efer}) w.u64(v);
  w.u8(s_.cpl);
  for (uint16_t v : {s_.cs, s_.ss, s_.ds, s_.es, s_.fs, s_.gs, s_.tr}) w.u16(v);
  for (uint64_t v : {s_.fs_base, s_.gs_base, s_.kernel_gs_base, s_.tss_base}) w.u64(v);
  for (const DescriptorTable& t : {s_.gdtr, s_.idtr}) {
    w.u64(t.base);
    w.u16(t.limit);
  }
  for (uint64_t v : {s_.star, s_.lstar, s_.cstar, s_.fmask, s_.apic_base}) w.u64(v);
  w.i64(s_.tsc_offset);

  w.boolean(supervisor_override_);
  w.u64(insn_rip_);
  save_exception(w, pending_);
  save_exception(w, last_exception_);
  w.u8(delivery_depth_);
  for (bool b : {deliver_exceptions_, halted_, interrupt_shadow_, exit_requested_, stopped_}) {
    w.boolean(b);
  }
  w.str(stop_message_);
  const VcpuCounters& c = counters_;
  for (uint64_t v : {c.retired, c.tlb_misses, c.decodes, c.code_invalidations, c.exceptions,
                     c.interrupts, c.invlpg, c.cr3_loads}) {
    w.u64(v);
  }
  if (w.version() < 3) return;
  // Version 3: the ring-3 system state, the platform MSRs, the x87/SSE state.
  w.u32(s_.tss_limit);
  w.u16(s_.ldtr);
  w.u64(s_.ldt_base);
  w.u32(s_.ldt_limit);
  for (uint64_t v : {s_.dr[0], s_.dr[1], s_.dr[2], s_.dr[3], s_.dr6, s_.dr7}) w.u64(v);
  w.u64(c.unimplemented_ud);
  w.u8(static_cast<uint8_t>(unimplemented_first_.size()));
  for (const std::string& name : unimplemented_first_) w.str(name);
  for (uint64_t v : {s_.pat, s_.mtrr_def_type, s_.misc_enable}) w.u64(v);
  save_fpu(w, s_.fpu);
}

void Vcpu::restore(StateReader& r, RestoredMemory memory) {
  CpuState s;
  for (uint64_t& g : s.gpr) g = r.u64();
  s.rip = r.u64();
  s.rflags = r.u64();
  for (uint64_t* v : {&s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.efer}) *v = r.u64();
  s.cpl = r.u8();
  if (s.cpl != 0 && s.cpl != 3) throw StateError("vcpu record has a bad CPL");
  for (uint16_t* v : {&s.cs, &s.ss, &s.ds, &s.es, &s.fs, &s.gs, &s.tr}) *v = r.u16();
  for (uint64_t* v : {&s.fs_base, &s.gs_base, &s.kernel_gs_base, &s.tss_base}) *v = r.u64();
  for (DescriptorTable* t : {&s.gdtr, &s.idtr}) {
    t->base = r.u64();
    t->limit = r.u16();
  }
  for (uint64_t* v : {&s.star, &s.lstar, &s.cstar, &s.fmask, &s.apic_base}) *v = r.u64();
  s.tsc_offset = r.i64();

  const bool supervisor_override = r.boolean();
  const uint64_t insn_rip = r.u64();
  const PendingException pending = restore_exception(r);
  const PendingException last = restore_exception(r);
  const uint8_t depth = r.u8();
  bool flags[5];
  for (bool& b : flags) b = r.boolean();
  std::string message = r.str(kMaxStopMessage);
  VcpuCounters c;
  for (uint64_t* v : {&c.retired, &c.tlb_misses, &c.decodes, &c.code_invalidations,
                      &c.exceptions, &c.interrupts, &c.invlpg, &c.cr3_loads}) {
    *v = r.u64();
  }
  std::vector<std::string> unimplemented;
  if (r.version() >= 3) {
    s.tss_limit = r.u32();
    s.ldtr = r.u16();
    s.ldt_base = r.u64();
    s.ldt_limit = r.u32();
    for (uint64_t* v : {&s.dr[0], &s.dr[1], &s.dr[2], &s.dr[3], &s.dr6, &s.dr7}) *v = r.u64();
    c.unimplemented_ud = r.u64();
    const uint8_t shown = r.u8();
    if (shown > kUnimplementedShown) throw StateError("vcpu record lists too many mnemonics");
    unimplemented.resize(shown);
    for (std::string& name : unimplemented) name = r.str(kMaxMnemonic);
    for (uint64_t* v : {&s.pat, &s.mtrr_def_type, &s.misc_enable}) *v = r.u64();
    s.fpu = restore_fpu(r);
  }

  // Everything parsed: only now change the vCPU, so a corrupt record leaves it as it was.
  s_ = s;
  lazy_.op = FlagOp::kNone;
  supervisor_override_ = supervisor_override;
  update_tlb_view();
  insn_rip_ = insn_rip;
  pending_ = pending;
  last_exception_ = last;
  delivery_depth_ = depth;
  deliver_exceptions_ = flags[0];
  halted_ = flags[1];
  interrupt_shadow_ = flags[2];
  exit_requested_ = flags[3];
  stopped_ = flags[4];
  break_inner_ = false;
  stack_access_ = false;
  stop_message_ = std::move(message);
  counters_ = c;
  unimplemented_first_ = std::move(unimplemented);
  flush_tlb();
  if (memory == RestoredMemory::kReplaced) {
    code_.clear();
    if (jit_ != nullptr) jit_->flush();
  }
  // The MMU may cache per-CR3 state (shadow roots): announce the restored one as a load.
  if (s_.cr0 & kCr0Pg) mmu_.cr3_loaded(paging_context());
}

}  // namespace densevm::cpu
