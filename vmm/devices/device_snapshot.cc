// save/restore of the local APIC and the UART (the checkpoint contract, snapshot_state.h).
#include "vmm/devices/local_apic.h"
#include "vmm/devices/uart16550.h"

namespace densevm {

void LocalApic::save(StateWriter& w) const {
  for (uint32_t v : {tpr_, ldr_, dfr_, svr_, lvt_timer_, lvt_lint0_, lvt_lint1_, lvt_error_,
                     initial_count_, divide_config_, icr_high_}) {
    w.u32(v);
  }
  for (uint32_t v : isr_) w.u32(v);
  for (uint32_t v : irr_) w.u32(v);
  for (uint32_t v : tmr_) w.u32(v);
  w.boolean(deadline_.has_value());
  w.u64(deadline_.value_or(0));
  w.u64(timer_expiries_);
}

void LocalApic::restore(StateReader& r) {
  for (uint32_t* v : {&tpr_, &ldr_, &dfr_, &svr_, &lvt_timer_, &lvt_lint0_, &lvt_lint1_,
                      &lvt_error_, &initial_count_, &divide_config_, &icr_high_}) {
    *v = r.u32();
  }
  for (uint32_t& v : isr_) v = r.u32();
  for (uint32_t& v : irr_) v = r.u32();
  for (uint32_t& v : tmr_) v = r.u32();
  const bool armed = r.boolean();
  const uint64_t deadline = r.u64();
  deadline_.reset();
  if (armed) deadline_ = deadline;
  timer_expiries_ = r.u64();
}

void Uart16550::save(StateWriter& w) const {
  for (uint8_t v : {ier_, lcr_, mcr_, scr_, dll_, dlm_, fcr_}) w.u8(v);
  w.boolean(thre_pending_);
  w.boolean(irq_line_);
  w.u64(bytes_written_);
  w.str(line_);
}

void Uart16550::restore(StateReader& r) {
  for (uint8_t* v : {&ier_, &lcr_, &mcr_, &scr_, &dll_, &dlm_, &fcr_}) *v = r.u8();
  thre_pending_ = r.boolean();
  irq_line_ = r.boolean();  // the IOAPIC restores its own view of the line
  bytes_written_ = r.u64();
  line_ = r.str(kMaxLine);
}

}  // namespace densevm
