// Vm::save / Vm::restore: "ask everyone to save", in one fixed order (vmm/vm_state.h).
#include "vmm/vm.h"

namespace densevm {

static_assert(Persistent<Vm> && Persistent<cpu::Vcpu> && Persistent<LocalApic> && Persistent<Uart16550> &&
              Persistent<VirtioMmio> && Persistent<BalloonDevice> && Persistent<IoApic> && Persistent<CmosRtc>);

VmState Vm::save() const {
  return {static_cast<uint8_t>(state()),
          static_cast<uint32_t>(exit_status_),
          failure_,
          idle_skipped_,
          mmu_checks_,
          markers_,
          vcpu_.save(),
          apic_.save(),
          uart_.save(),
          balloon_mmio_.save(),
          balloon_.save(),
          ioapic_.save(),
          rtc_.save(),
          reset_requested_};
}

void Vm::restore(const VmState& s, cpu::RestoredMemory memory) {
  if (s.run_state > static_cast<uint8_t>(State::kFailed)) throw StateError("vm record has a bad state");
  vcpu_.restore(s.vcpu, memory);
  tlb_flush_pending_ = false;  // the vCPU restore emptied the soft TLB
  apic_.restore(s.apic);
  uart_.restore(s.uart);
  balloon_mmio_.restore(s.balloon_transport);
  balloon_.restore(s.balloon);
  ioapic_.restore(s.ioapic);
  rtc_.restore(s.rtc);
  reset_requested_ = s.reset_requested;
  exit_status_ = static_cast<int>(s.exit_status);
  failure_ = s.failure;
  idle_skipped_ = s.idle_skipped;
  mmu_checks_ = s.mmu_checks;
  markers_ = s.markers;
  state_ = static_cast<State>(s.run_state);
}

}  // namespace densevm
