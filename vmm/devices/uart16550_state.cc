// Uart16550::save / restore (core/persist.h).
#include "vmm/devices/uart16550.h"

namespace densevm {

UartState Uart16550::save() const {
  return {ier_, lcr_, mcr_, scr_, dll_, dlm_, bytes_written_, line_, fcr_, thre_pending_, irq_line_};
}

void Uart16550::restore(const UartState& s) {
  ier_ = s.ier;
  lcr_ = s.lcr;
  mcr_ = s.mcr;
  scr_ = s.scr;
  dll_ = s.dll;
  dlm_ = s.dlm;
  bytes_written_ = s.bytes_written;
  line_ = s.line;
  fcr_ = s.fcr;
  thre_pending_ = s.thre_pending;
  irq_line_ = s.irq_line;
}

}  // namespace densevm
