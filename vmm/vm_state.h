// VmState: a whole VM's state as a checkpoint takes it — "ask everyone to save", in one fixed
// order: the VM's run state, then the vCPU's and every device's record (core/persist.h).
// Guest RAM is not in it: a snapshot file stores the pages, an in-memory checkpoint keeps them
// copy-on-write. The field list is the snapshot file's state section (FORMAT.md), so its
// version is the file format's: a change to any record in it is a new format version, whose
// fields are listed under `io.since(N)` (version 3 added the ring-3 and x87/SSE vCPU state
// and a Linux guest's platform: the IOAPIC, the CMOS clock, the UART's and the local APIC's
// interrupt state, a pending ACPI reset). Versions kOldestVersion to kVersion are read.
//
//   VmState s = vm.save();                // between slices
//   vm.restore(s, cpu::RestoredMemory::kReported);
#pragma once

#include <cstdint>
#include <string>

#include "balloon/balloon_device.h"
#include "core/persist.h"
#include "virtio/virtio_mmio.h"
#include "vmm/cpu/vcpu.h"
#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/io_apic.h"
#include "vmm/devices/local_apic.h"
#include "vmm/devices/uart16550.h"

namespace densevm {

struct VmState {
  // The snapshot format version with this layout (version 4 changed the config section only).
  static constexpr uint32_t kVersion = 4;
  static constexpr uint32_t kOldestVersion = 2;  // the oldest layout still read
  static constexpr uint64_t kMaxFailure = 4096;
  uint8_t run_state = 0;  // Vm::State
  uint32_t exit_status = 0;
  std::string failure;
  uint64_t idle_skipped = 0;  // virtual time skipped while halted
  uint64_t mmu_checks = 0;
  uint64_t markers = 0;
  cpu::VcpuState vcpu;
  ApicState apic;
  UartState uart;
  VirtioMmioState balloon_transport;
  BalloonState balloon;
  IoApicState ioapic;
  RtcState rtc;
  bool reset_requested = false;  // the guest wrote the ACPI reset register; the VM stops on it

  static void fields(auto& s, auto& io) {
    io(s.run_state, s.exit_status);
    io.str(s.failure, kMaxFailure);
    io(s.idle_skipped, s.mmu_checks, s.markers, s.vcpu, s.apic, s.uart, s.balloon_transport, s.balloon);
    if (io.since(3)) io(s.ioapic, s.rtc, s.reset_requested);
  }
};

}  // namespace densevm
