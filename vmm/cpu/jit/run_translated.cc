// Vcpu's inner loop with translation on: the interpreter's loop (vcpu.cc), except that at
// each block head — where a page run starts, after a jump, after translated code left — a
// translated block runs instead of `step` when there is one and it fits the budget. The
// page run ends where the interpreter's would, so the outer loop takes interrupts and
// device events at the same instruction boundaries.
#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu_step.h"

namespace densevm::cpu {

void Vcpu::run_translated(DecodedPage* page, uint64_t page_va, const uint8_t* host,
                          uint64_t gpa_page, uint64_t limit) {
  // Translated code goes on into another page itself only if this is false (no interrupt
  // can become pending without something asking the run loop to look again).
  irq_pending_ = irq_source_ != nullptr && irq_source_->has_pending_interrupt();
  bool head = true;
  while (s_.rip - page_va < kPageSize) {
    if (head) {
      const auto offset = static_cast<unsigned>(s_.rip - page_va);
      const jit::Block* b = jit_->block_at(gpa_page, offset, host);
      // A block runs whole or not at all against the budget: one that may retire more than
      // is left is interpreted, so the run stops at exactly `limit`.
      if (b != nullptr && counters_.retired + b->count <= limit) {
        const uint64_t before = counters_.retired;
        const bool end = jit_->run(*this, *b, page_va, limit);
        jit_->note_retired(counters_.retired - before);
        if (end || counters_.retired >= limit || break_inner_) return;
        continue;
      }
    }
    const Step st = step(page, page_va, host, limit);
    if (st == Step::kEndPage) return;
    head = st == Step::kJumped;
  }
}

bool Vcpu::enable_translation(const jit::Config& config, std::string* error) {
  jit_ = jit::Jit::create(*this, config, error);
  jit_dispatch_ = jit_ != nullptr ? jit_->dispatch_table() : nullptr;
  return jit_ != nullptr;
}

void Vcpu::share_translations(const Vcpu& frozen, std::shared_ptr<const void> keep) {
  if (jit_ != nullptr && frozen.jit_ != nullptr) jit_->share_from(*frozen.jit_, std::move(keep));
}

jit::Stats Vcpu::translation_stats() const {
  if (jit_ == nullptr) return jit::Stats{};
  jit::Stats s = jit_->stats();
  s.linked += jit_dispatched_;  // found by the dispatch stub without a call
  return s;
}

}  // namespace densevm::cpu
