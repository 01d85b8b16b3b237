// IoApic: an 82093AA-style I/O APIC at 0xfec00000 with 24 pins (GSI 0-23), delivering to
// the one local APIC (Intel 82093AA datasheet; ACPI names it in the MADT).
//
// Registers: IOREGSEL at 0x00 selects, IOWIN at 0x10 reads and writes ID (0), version (1:
// 0x11 with 23 as the highest redirection entry), arbitration ID (2) and the 64-bit
// redirection entries (0x10 + 2n low, +1 high). Devices drive pins with set_line(pin,
// asserted): an edge-triggered entry delivers on each rising edge, a level-triggered one
// while the line is asserted and its Remote IRR is clear; the local APIC's EOI of that
// vector (end_of_interrupt) clears Remote IRR and delivers again if the line is still up.
// Only fixed and lowest-priority delivery exist on one CPU (both go to the local APIC
// whatever the destination); NMI, SMI, INIT and ExtINT entries are not modelled and never
// deliver. Pins are logical: "asserted" is what the ACPI tables describe, so the polarity
// bit is stored but not applied.
//
//   IoApic ioapic(apic);                          // apic: an IoApic::Sink
//   ioapic.write(0x00, 4, 0x18); ioapic.write(0x10, 4, 0x31);   // pin 4: vector 0x31, edge
//   ioapic.set_line(4, true);                      // apic gets vector 0x31
#pragma once

#include <array>
#include <cstdint>

#include "core/persist.h"

namespace densevm {

// The IOAPIC's part of a checkpoint (core/persist.h; records of version 3 on). The default is
// the reset state, every entry masked: what a VM restored from an older record has.
struct IoApicState {
  static constexpr unsigned kPins = 24;
  static constexpr std::array<uint64_t, kPins> kResetEntries = [] {
    std::array<uint64_t, kPins> entries{};
    entries.fill(uint64_t{1} << 16);  // masked
    return entries;
  }();
  uint8_t select = 0;
  uint32_t id = 0;
  std::array<uint64_t, kPins> redirection = kResetEntries;
  uint32_t lines = 0;  // bit per pin: asserted
  uint64_t delivered = 0;
  static void fields(auto& s, auto& io) { io(s.select, s.id, s.redirection, s.lines, s.delivered); }
};

class IoApic {
 public:
  static constexpr unsigned kPins = IoApicState::kPins;
  static constexpr uint32_t kVersion = 0x00170011;  // max redirection entry 23, version 0x11

  // Where interrupts go: the local APIC accepts a vector, level-triggered or not (its TMR).
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void accept_interrupt(uint8_t vector, bool level) = 0;
  };

  explicit IoApic(Sink& sink) : sink_(sink) {}

  // `offset` from the base; 32-bit accesses to IOREGSEL (0x00) and IOWIN (0x10); anything
  // else reads 0 and is ignored.
  [[nodiscard]] uint32_t read(uint64_t offset, unsigned size);
  void write(uint64_t offset, unsigned size, uint32_t value);

  void set_line(unsigned pin, bool asserted);
  // The local APIC completed `vector` (a level-triggered one: EOI broadcast).
  void end_of_interrupt(uint8_t vector);

  [[nodiscard]] uint64_t entry(unsigned pin) const { return redirection_[pin]; }
  [[nodiscard]] uint64_t delivered() const { return delivered_; }

  [[nodiscard]] IoApicState save() const;
  void restore(const IoApicState& s);

 private:
  [[nodiscard]] uint32_t read_register(uint8_t index) const;
  void write_register(uint8_t index, uint32_t value);
  // Delivers pin's vector if its entry and line call for it now.
  void service(unsigned pin);

  Sink& sink_;
  uint8_t select_ = 0;
  uint32_t id_ = 0;
  std::array<uint64_t, kPins> redirection_ = IoApicState::kResetEntries;
  uint32_t lines_ = 0;  // bit per pin: asserted
  uint64_t delivered_ = 0;
};

}  // namespace densevm
