// AcpiPower: the registers of the hardware-reduced FADT (ACPI 6.4 §4.8.3.6-7), in port
// space: the sleep control register Linux's poweroff writes (SLP_TYPx << 2 | SLP_EN with
// \_S5's type: the VM powers off), the sleep status register (WAK_STS, write 1 to clear)
// and the reset register its reboot and panic=-1 write (RESET_VALUE: the VM resets).
// Other sleep states are not offered (the DSDT names only \_S5) and are ignored.
//
//   if (AcpiPower::write(kAcpiSleepControlPort, 5 << 2 | 0x20) == AcpiPower::Event::kPowerOff)
//     stop_the_vm(0);
#pragma once

#include <cstdint>

#include "vmm/platform_layout.h"

namespace densevm {

class AcpiPower {
 public:
  enum class Event : uint8_t { kNone, kPowerOff, kReset };

  [[nodiscard]] static bool handles(uint16_t port) {
    return port == kAcpiSleepControlPort || port == kAcpiSleepStatusPort || port == kAcpiResetPort;
  }
  [[nodiscard]] static uint8_t read(uint16_t) { return 0; }  // no wake status: nothing sleeps
  // What the write asks of the machine.
  [[nodiscard]] static Event write(uint16_t port, uint8_t value) {
    if (port == kAcpiSleepControlPort && (value & kSleepEnable) &&
        ((value >> 2) & 7) == kAcpiS5SleepType) {
      return Event::kPowerOff;
    }
    if (port == kAcpiResetPort && value == kAcpiResetValue) return Event::kReset;
    return Event::kNone;
  }

 private:
  static constexpr uint8_t kSleepEnable = 0x20;  // SLP_EN, bit 5 of the sleep control register
};

}  // namespace densevm
