// LocalApic: the local APIC in xAPIC MMIO mode (SDM Vol 3A ch. 11): timer, EOI, the
// interrupts an IOAPIC sends and self-IPIs.
//
// Time is virtual: callers pass `now` in bus cycles (retired instructions plus time skipped
// while halted), so the timer is deterministic. A timer period is initial count x divide bus
// cycles. The timer runs one-shot, periodic or in TSC-deadline mode (SDM 11.5.4.1: the
// deadline is armed through IA32_TSC_DEADLINE, which the VM converts from TSC to virtual
// time). Interrupts come from the timer, the IOAPIC (accept_interrupt: a level-triggered
// vector sets TMR, and its EOI is broadcast back to the IOAPIC) and ICR writes with fixed
// delivery to this APIC (self-IPIs; there is no other CPU, so other IPIs are dropped).
// LINT0/LINT1/error LVTs are stored and ignored, and TPR is stored but does not mask delivery.
// As on hardware, a software-disabled APIC (SVR bit 8 clear, the reset state) forces every LVT
// mask bit set, so a guest enables the APIC through SVR before unmasking the timer.
//
//   LocalApic apic; apic.write(0xf0, 0x1ff, now);                   // software enable
//   apic.write(0x320, 0x20020, now); apic.write(0x380, 1000, now);  // periodic, vector 0x20
//   apic.advance(now); if (apic.has_pending_interrupt()) v = apic.acknowledge_interrupt();
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/persist.h"
#include "vmm/cpu/vcpu.h"
#include "vmm/devices/io_apic.h"

namespace densevm {

// The local APIC's part of a checkpoint (core/persist.h): registers, the in-service and
// requested vectors, and the timer (its deadline is in virtual time, the TSC deadline's too);
// since version 3 the ICR's destination half and the trigger mode of accepted vectors.
struct ApicState {
  uint32_t tpr = 0, ldr = 0, dfr = 0, svr = 0;
  uint32_t lvt_timer = 0, lvt_lint0 = 0, lvt_lint1 = 0, lvt_error = 0;
  uint32_t initial_count = 0, divide_config = 0;
  std::array<uint32_t, 8> isr{}, irr{};
  std::optional<uint64_t> deadline;
  uint64_t timer_expiries = 0;
  uint32_t icr_high = 0;
  std::array<uint32_t, 8> tmr{};
  static void fields(auto& s, auto& io) {
    io(s.tpr, s.ldr, s.dfr, s.svr, s.lvt_timer, s.lvt_lint0, s.lvt_lint1, s.lvt_error, s.initial_count,
       s.divide_config, s.isr, s.irr, s.deadline, s.timer_expiries);
    if (io.since(3)) io(s.icr_high, s.tmr);
  }
};

class LocalApic final : public cpu::InterruptSource, public IoApic::Sink {
 public:
  static constexpr uint64_t kBase = 0xfee00000, kSize = 0x1000;
  // Version 0x14 (integrated xAPIC), max LVT entry 5 (6 LVTs: timer, thermal, perf, LINT0,
  // LINT1, error), as on P6-era and later parts; no EOI-broadcast suppression.
  static constexpr uint32_t kVersion = 0x00050014;

  // `offset` is from kBase. The bus passes only 32-bit accesses; an offset that is not a 16-byte
  // aligned register inside the page reads 0 and ignores writes. Both bring the timer up to `now`.
  [[nodiscard]] uint32_t read(uint64_t offset, uint64_t now);
  void write(uint64_t offset, uint32_t value, uint64_t now);

  // Where the EOI of a level-triggered vector goes (the IOAPIC that sent it).
  void set_eoi_listener(IoApic* ioapic) { ioapic_ = ioapic; }
  // IoApic::Sink: an interrupt from the IOAPIC.
  void accept_interrupt(uint8_t vector, bool level) override;

  // TSC-deadline mode (LVT timer bits 18:17 = 10): arms the timer to fire at virtual time
  // `deadline`, or disarms it with nullopt. Ignored in the other modes (SDM 11.5.4.1).
  void set_tsc_deadline(std::optional<uint64_t> deadline, uint64_t now);
  [[nodiscard]] bool tsc_deadline_mode() const;
  // The armed deadline in TSC-deadline mode (what IA32_TSC_DEADLINE reads as, converted).
  [[nodiscard]] std::optional<uint64_t> tsc_deadline() const;

  // When the timer next fires, if armed. A masked timer still counts; it just does not interrupt.
  [[nodiscard]] std::optional<uint64_t> next_deadline() const;
  // Fires the timer if now >= deadline: sets the vector in IRR (unless masked) and re-arms a
  // periodic timer at the next future period; missed periods fire once but all count.
  void advance(uint64_t now);

  // Software-enabled and the highest IRR vector's priority class (bits 7:4) is above the highest
  // in-service vector's (SDM 11.8.3.1, with TPR taken as 0).
  [[nodiscard]] bool has_pending_interrupt() const override;
  // Moves the highest IRR vector to ISR and returns it; the spurious vector (SVR 7:0) if none.
  uint8_t acknowledge_interrupt() override;
  [[nodiscard]] uint64_t timer_expiries() const { return timer_expiries_; }
  [[nodiscard]] ApicState save() const;
  void restore(const ApicState& s);

 private:
  using VectorSet = std::array<uint32_t, 8>;  // 256 bits, as the ISR/IRR registers lay them out

  void arm(uint64_t now, uint64_t count);
  void mask_all_lvts();
  [[nodiscard]] uint32_t current_count(uint64_t now) const;
  [[nodiscard]] uint64_t divisor() const;
  [[nodiscard]] bool software_enabled() const { return (svr_ & 0x100) != 0; }

  void set_vector(uint8_t vector);

  IoApic* ioapic_ = nullptr;
  uint32_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0xffffffff;  // flat model, the reset value
  uint32_t svr_ = 0xff;
  uint32_t lvt_timer_ = 0x10000;  // LVTs reset masked
  uint32_t lvt_lint0_ = 0x10000;
  uint32_t lvt_lint1_ = 0x10000;
  uint32_t lvt_error_ = 0x10000;
  uint32_t initial_count_ = 0;
  uint32_t divide_config_ = 0;
  VectorSet isr_{};
  VectorSet irr_{};
  VectorSet tmr_{};  // trigger mode of each accepted vector: 1 = level (EOI is broadcast)
  uint32_t icr_high_ = 0;
  std::optional<uint64_t> deadline_;  // when the current count reaches 0
  uint64_t timer_expiries_ = 0;
};

}  // namespace densevm
