// save/restore of the local APIC and the UART (the checkpoint contract, snapshot_state.h).
#include "vmm/devices/local_apic.h"
#include "vmm/devices/uart16550.h"

namespace densevm {

void LocalApic::save(StateWriter& w) const {
  for (uint32_t v : {tpr_, ldr_, dfr_, svr_, lvt_timer_, lvt_lint0_, lvt_lint1_, lvt_error_,
                     initial_count_, divide_config_}) {
    w.u32(v);
  }
  for (uint32_t v : isr_) w.u32(v);
  for (uint32_t v : irr_) w.u32(v);
  w.boolean(deadline_.has_value());
  w.u64(deadline_.value_or(0));
  w.u64(timer_expiries_);
  if (w.version() < 3) return;
  // Version 3: IOAPIC interrupts (their trigger modes) and self-IPIs.
  w.u32(icr_high_);
  for (uint32_t v : tmr_) w.u32(v);
}

void LocalApic::restore(StateReader& r) {
  for (uint32_t* v : {&tpr_, &ldr_, &dfr_, &svr_, &lvt_timer_, &lvt_lint0_, &lvt_lint1_,
                      &lvt_error_, &initial_count_, &divide_config_}) {
    *v = r.u32();
  }
  for (uint32_t& v : isr_) v = r.u32();
  for (uint32_t& v : irr_) v = r.u32();
  const bool armed = r.boolean();
  const uint64_t deadline = r.u64();
  deadline_.reset();
  if (armed) deadline_ = deadline;
  timer_expiries_ = r.u64();
  icr_high_ = 0;
  tmr_.fill(0);
  if (r.version() >= 3) {
    icr_high_ = r.u32();
    for (uint32_t& v : tmr_) v = r.u32();
  }
}

void Uart16550::save(StateWriter& w) const {
  for (uint8_t v : {ier_, lcr_, mcr_, scr_, dll_, dlm_}) w.u8(v);
  w.u64(bytes_written_);
  w.str(line_);
  if (w.version() < 3) return;
  // Version 3: FIFOs and the THR-empty interrupt.
  w.u8(fcr_);
  w.boolean(thre_pending_);
  w.boolean(irq_line_);
}

void Uart16550::restore(StateReader& r) {
  for (uint8_t* v : {&ier_, &lcr_, &mcr_, &scr_, &dll_, &dlm_}) *v = r.u8();
  bytes_written_ = r.u64();
  line_ = r.str(kMaxLine);
  fcr_ = 0;
  thre_pending_ = irq_line_ = false;
  if (r.version() >= 3) {
    fcr_ = r.u8();
    thre_pending_ = r.boolean();
    irq_line_ = r.boolean();  // the IOAPIC restores its own view of the line
  }
}

}  // namespace densevm
