// Vm::save / Vm::restore: "ask everyone to save", in one fixed order (vmm/snapshot_state.h).
#include "vmm/vm.h"

namespace densevm {
namespace {

constexpr uint64_t kMaxFailure = 4096;

}  // namespace

void Vm::save(StateWriter& w) const {
  w.u8(static_cast<uint8_t>(state()));
  w.u32(static_cast<uint32_t>(exit_status_));
  w.str(failure_);
  w.u64(idle_skipped_);
  w.u64(mmu_checks_);
  w.u64(markers_);
  vcpu_.save(w);
  apic_.save(w);
  uart_.save(w);
  balloon_mmio_.save(w);
  balloon_.save(w);
  if (w.version() < 3) return;
  // Version 3: a Linux guest's platform.
  ioapic_.save(w);
  rtc_.save(w);
  w.boolean(reset_requested_);
}

void Vm::restore(StateReader& r, cpu::RestoredMemory memory) {
  const uint8_t state = r.u8();
  if (state > static_cast<uint8_t>(State::kFailed)) throw StateError("vm record has a bad state");
  exit_status_ = static_cast<int>(r.u32());
  failure_ = r.str(kMaxFailure);
  idle_skipped_ = r.u64();
  mmu_checks_ = r.u64();
  markers_ = r.u64();
  vcpu_.restore(r, memory);
  tlb_flush_pending_ = false;  // the vCPU restore emptied the soft TLB
  apic_.restore(r);
  uart_.restore(r);
  balloon_mmio_.restore(r);
  balloon_.restore(r);
  reset_requested_ = false;
  if (r.version() >= 3) {
    ioapic_.restore(r);
    rtc_.restore(r);
    reset_requested_ = r.boolean();
  }
  state_ = static_cast<State>(state);
}

}  // namespace densevm
