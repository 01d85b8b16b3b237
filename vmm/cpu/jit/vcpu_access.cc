#include "vmm/cpu/jit/vcpu_access.h"

#include <cstddef>

#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu_step.h"

namespace densevm::cpu::jit {
namespace {

int32_t offset_of(const Vcpu& v, const void* member) {
  return static_cast<int32_t>(static_cast<const char*>(member) -
                              reinterpret_cast<const char*>(&v));
}

}  // namespace

// Translated code computes entry addresses and tags with these numbers.
static_assert(sizeof(uint64_t) * 4 == VcpuAccess::kTlbEntryBytes);
static_assert(offsetof(LazyFlags, op) == 0 && offsetof(LazyFlags, size) == 1,
              "translated code stores op and size as one 16-bit word");

VcpuAccess::Layout VcpuAccess::layout(const Vcpu& v) {
  static_assert(sizeof(Vcpu::TlbEntry) == kTlbEntryBytes);
  static_assert(offsetof(Vcpu::TlbEntry, read_tag) == kTlbReadTag);
  static_assert(offsetof(Vcpu::TlbEntry, write_tag) == kTlbWriteTag);
  static_assert(offsetof(Vcpu::TlbEntry, addend) == kTlbAddend);
  static_assert(offsetof(Vcpu::TlbEntry, exec_tag) == kTlbExecTag);
  static_assert(sizeof(v.irq_pending_) == 1);
  static_assert(Vcpu::kTlbSize == kTlbEntries);
  Layout l;
  l.gpr = offset_of(v, &v.s_.gpr[0]);
  l.rip = offset_of(v, &v.s_.rip);
  l.rflags = offset_of(v, &v.s_.rflags);
  l.fs_base = offset_of(v, &v.s_.fs_base);
  l.gs_base = offset_of(v, &v.s_.gs_base);
  l.lazy_op = offset_of(v, &v.lazy_.op);
  l.lazy_carry = offset_of(v, &v.lazy_.carry_in);
  l.lazy_a = offset_of(v, &v.lazy_.a);
  l.lazy_b = offset_of(v, &v.lazy_.b);
  l.lazy_res = offset_of(v, &v.lazy_.res);
  l.retired = offset_of(v, &v.counters_.retired);
  l.insn_rip = offset_of(v, &v.insn_rip_);
  l.break_inner = offset_of(v, &v.break_inner_);
  l.tlb_view = offset_of(v, &v.tlb_view_);
  l.tlb_gpa_view = offset_of(v, &v.tlb_gpa_view_);
  l.irq_pending = offset_of(v, &v.irq_pending_);
  l.jit_dispatch = offset_of(v, &v.jit_dispatch_);
  l.jit_dispatched = offset_of(v, &v.jit_dispatched_);
  return l;
}

uint32_t VcpuAccess::exec_insn(Vcpu* v, const DecodedInsn* d, uint64_t insn_va,
                               uint64_t retired) {
  v->counters_.retired = retired;
  v->insn_rip_ = insn_va;
  v->s_.rip = insn_va + d->len;
  v->stack_access_ = false;
  const Exec ex = d->handler(*v, *d);
  switch (ex) {
    case Exec::kNext:
      if (!v->break_inner_) return 0;
      ++v->counters_.retired;
      return 1;
    case Exec::kJump:
      ++v->counters_.retired;
      return 1;
    case Exec::kHalt:
      ++v->counters_.retired;
      v->halted_ = true;
      return 2;
    case Exec::kFault:
    case Exec::kStop:
      break;
  }
  v->s_.rip = v->insn_rip_;
  return 2;
}

// The run loop's state while an instruction executes, for the MMU and devices behind a
// slow access: retired count, the instruction's RIP and the next one, SS or not.
void VcpuAccess::enter_site(Vcpu* v, uint64_t site, uint64_t page_va, uint64_t retired) {
  v->insn_rip_ = page_va + MemSite::offset(site);
  v->s_.rip = v->insn_rip_ + MemSite::length(site);
  v->counters_.retired = retired;
  v->stack_access_ = MemSite::stack(site);
}

LoadResult VcpuAccess::load(Vcpu* v, uint64_t va, uint64_t site, uint64_t page_va,
                            uint64_t retired) {
  enter_site(v, site, page_va, retired);
  uint64_t value = 0;
  if (!v->read_sized(va, MemSite::size(site), value)) {
    v->s_.rip = v->insn_rip_;
    return {0, 0};
  }
  return {value, 1};
}

uint64_t VcpuAccess::store(Vcpu* v, uint64_t va, uint64_t site, uint64_t page_va,
                           uint64_t retired, uint64_t value) {
  enter_site(v, site, page_va, retired);
  if (!v->write_sized(va, MemSite::size(site), value)) {
    v->s_.rip = v->insn_rip_;
    return 0;
  }
  return 1;
}

uint64_t VcpuAccess::condition(Vcpu* v, uint64_t cc) {
  return v->cond(static_cast<unsigned>(cc)) ? 1 : 0;
}

uint64_t VcpuAccess::carry(Vcpu* v) { return v->flag(kFlagCf) ? 1 : 0; }

NextBlock VcpuAccess::next_block(Vcpu* v, uint64_t target, uint64_t page_va) {
  const uint64_t target_page = target & ~kPageMask;
  // The branch's own slow access asked the run loop to look again; or another page: the
  // run loop's outer iteration would look for an interrupt first.
  if (v->break_inner_ || (target_page != page_va && v->irq_pending_)) return {nullptr, 0};
  const Vcpu::TlbEntry& e = v->tlb_entry(target);
  if (e.exec_tag != Vcpu::tlb_tag(target)) return {nullptr, 0};
  const Block* b = v->jit_->linked_block((v->tlb_gpa(e) << kPageShift) | (target & kPageMask));
  if (b == nullptr) return {nullptr, 0};
  return {b->code, target_page};
}

NextBlock VcpuAccess::run_crossing(Vcpu* v, uint64_t insn_va, uint64_t page_va,
                                   uint64_t retired, uint64_t limit) {
  constexpr NextBlock kGoOn{nullptr, 0}, kEnd{nullptr, 1};
  v->counters_.retired = retired;
  v->s_.rip = insn_va;
  if (retired >= limit || v->break_inner_) return kGoOn;
  // The page's bytes: its fetch entry, unless a data access replaced it (the run loop kept
  // the host address; it takes the instruction then).
  const Vcpu::TlbEntry& e = v->tlb_entry(insn_va);
  if (e.exec_tag != Vcpu::tlb_tag(insn_va)) return kGoOn;
  const auto* host = reinterpret_cast<const uint8_t*>(page_va + e.addend);
  // From here what Vcpu::step does: the decode (a fault ends the page run), then execute.
  const DecodedInsn* d = v->decode_crossing(page_va, host);
  if (d == nullptr) return kEnd;
  if (v->execute(d, limit) == Vcpu::Step::kEndPage) {
    // Retired nothing (a fault, a stop) or halted: the page run ends; else the budget or
    // a request to look at events: the run loop goes on from RIP and sees it.
    return v->counters_.retired == retired || v->halted_ ? kEnd : kGoOn;
  }
  const NextBlock next = next_block(v, v->s_.rip, page_va);
  return next.code != nullptr ? next : kGoOn;
}

void VcpuAccess::raise_gp0(Vcpu* v, uint64_t insn_va, uint64_t retired) {
  v->counters_.retired = retired;
  v->insn_rip_ = insn_va;
  v->s_.rip = insn_va;
  v->raise_gp0();
}

}  // namespace densevm::cpu::jit
