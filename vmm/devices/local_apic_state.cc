// LocalApic::save / restore (core/persist.h).
#include "vmm/devices/local_apic.h"

namespace densevm {

ApicState LocalApic::save() const {
  return {tpr_,      ldr_,           dfr_,           svr_, lvt_timer_, lvt_lint0_, lvt_lint1_,      lvt_error_,
          initial_count_, divide_config_, isr_, irr_,       deadline_,  timer_expiries_, icr_high_, tmr_};
}

void LocalApic::restore(const ApicState& s) {
  tpr_ = s.tpr;
  ldr_ = s.ldr;
  dfr_ = s.dfr;
  svr_ = s.svr;
  lvt_timer_ = s.lvt_timer;
  lvt_lint0_ = s.lvt_lint0;
  lvt_lint1_ = s.lvt_lint1;
  lvt_error_ = s.lvt_error;
  initial_count_ = s.initial_count;
  divide_config_ = s.divide_config;
  isr_ = s.isr;
  irr_ = s.irr;
  deadline_ = s.deadline;
  timer_expiries_ = s.timer_expiries;
  icr_high_ = s.icr_high;
  tmr_ = s.tmr;
}

}  // namespace densevm
