// CmosRtc::save / restore (core/persist.h).
#include "vmm/devices/cmos_rtc.h"

namespace densevm {

RtcState CmosRtc::save() const { return {epoch_, offset_, index_, nmi_masked_, ram_}; }

void CmosRtc::restore(const RtcState& s) {
  epoch_ = s.epoch;
  offset_ = s.offset;
  index_ = s.index & 0x7f;
  nmi_masked_ = s.nmi_masked;
  ram_ = s.ram;
}

}  // namespace densevm
