// DeviceBus: where a vCPU sends port I/O and MMIO accesses.
//
// The VM implements it by dispatching to its devices (UART, exit port, local APIC,
// virtio-mmio). Accesses to nothing read as all ones and are otherwise ignored, as on a PC.
//
//   uint64_t v = bus.mmio_read(Gpa{0xfee00030}, 4);
//   bus.port_write(0x3f8, 1, 'A');
#pragma once

#include <cstdint>

#include "core/types.h"

namespace densevm {

class DeviceBus {
 public:
  virtual ~DeviceBus() = default;
  [[nodiscard]] virtual uint32_t port_read(uint16_t port, unsigned size) = 0;
  virtual void port_write(uint16_t port, unsigned size, uint32_t value) = 0;
  [[nodiscard]] virtual uint64_t mmio_read(Gpa gpa, unsigned size) = 0;
  virtual void mmio_write(Gpa gpa, unsigned size, uint64_t value) = 0;
};

}  // namespace densevm
