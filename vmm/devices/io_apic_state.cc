// IoApic::save / restore (core/persist.h).
#include "vmm/devices/io_apic.h"

namespace densevm {

IoApicState IoApic::save() const { return {select_, id_, redirection_, lines_, delivered_}; }

void IoApic::restore(const IoApicState& s) {
  select_ = s.select;
  id_ = s.id;
  redirection_ = s.redirection;
  lines_ = s.lines;
  delivered_ = s.delivered;
}

}  // namespace densevm
