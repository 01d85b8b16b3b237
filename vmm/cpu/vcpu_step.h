// Vcpu::step: one interpreted instruction with the run loop's bookkeeping, shared by the
// interpreter's inner loop (vcpu.cc) and the translator's (jit/run_translated.cc), so both
// retire, fault and end a page run by the same rules; Vcpu::execute, its second half, also
// runs the instruction a translated block reaches across a page boundary
// (jit::VcpuAccess::run_crossing).
//
//   while (s_.rip - page_va < kPageSize && step(page, page_va, host, limit) != Step::kEndPage) {}
#pragma once

#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

// The caller has checked that RIP is inside the page. kEndPage: the inner loop must end
// (a fault or stop with RIP back at the instruction, HLT, the budget, or a request to
// look at events again); kJumped: the handler changed RIP.
[[gnu::always_inline]] inline Vcpu::Step Vcpu::step(DecodedPage* page, uint64_t page_va,
                                                     const uint8_t* host, uint64_t limit) {
  const DecodedInsn* d = page->slot(static_cast<unsigned>(s_.rip - page_va));
  if (d == nullptr) {
    d = decode_at(page, page_va, host);
    if (d == nullptr) return Step::kEndPage;
  }
  return execute(d, limit);
}

[[gnu::always_inline]] inline Vcpu::Step Vcpu::execute(const DecodedInsn* d, uint64_t limit) {
  insn_rip_ = s_.rip;
  s_.rip += d->len;
  stack_access_ = false;
  const Exec ex = d->handler(*this, *d);
  if (ex == Exec::kFault || ex == Exec::kStop) {
    s_.rip = insn_rip_;
    return Step::kEndPage;
  }
  ++counters_.retired;
  if (ex == Exec::kHalt) {
    halted_ = true;
    return Step::kEndPage;
  }
  if (counters_.retired >= limit || break_inner_) return Step::kEndPage;
  return ex == Exec::kJump ? Step::kJumped : Step::kNext;
}

}  // namespace densevm::cpu
