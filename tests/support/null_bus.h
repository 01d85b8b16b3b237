// NullBus: a DeviceBus with no devices, for tests and fuzz drivers that run a vCPU alone:
// every port and MMIO read gives all ones (no device answers), every write is dropped.
//
//   densevm::testing::NullBus bus;
//   cpu::Vcpu vcpu(mmu, bus, tracking);
#pragma once

#include <cstdint>

#include "vmm/device_bus.h"

namespace densevm::testing {

class NullBus final : public DeviceBus {
 public:
  uint32_t port_read(uint16_t, unsigned) override { return ~0u; }
  void port_write(uint16_t, unsigned, uint32_t) override {}
  uint64_t mmio_read(Gpa, unsigned) override { return ~uint64_t{0}; }
  void mmio_write(Gpa, unsigned, uint64_t) override {}
};

}  // namespace densevm::testing
