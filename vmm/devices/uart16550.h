// Uart16550: a 16550A UART at ports base..base+7, as much as a console driver needs.
//
// Transmit only: a byte written is sent at once, so LSR always says THR and transmitter
// empty, and nothing is ever received. Interrupts (PC16550D datasheet, "Interrupt
// Identification Register"): with IER's ETBEI set, "THR empty" is pending after every
// transmitted byte and when ETBEI is enabled, until the guest reads IIR or writes THR; the
// interrupt line (irq_line) is that pending state gated by MCR OUT2, as PCs wire it, and
// drops for a moment on each THR write so an edge-triggered IOAPIC pin sees every
// interrupt. FCR bit 0 turns the FIFOs on (IIR bits 7:6 = 11, so Linux finds a 16550A and
// sends 16 bytes per interrupt). MCR loopback reflects the modem outputs in MSR.
// Bytes the guest writes are collected into lines and handed to a sink.
// The guest is untrusted: bytes other than printable ASCII and '\t' are shown as '?' (no
// terminal escape sequences reach the host), and lines are cut into 4096-byte pieces.
//
//   Uart16550 uart([](std::string_view line) { std::cout << line << '\n'; });
//   uart.set_irq_sink([&](bool up) { ioapic.set_line(4, up); });
//   if (uart.handles(port)) uart.write(port, value);
//   uart.flush();  // at VM exit
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "core/persist.h"

namespace densevm {

// The UART's part of a checkpoint (core/persist.h): its registers and the pending partial
// line, so that a restored console finishes the line it was in; since version 3 the FIFO
// control and the THR-empty interrupt (the IOAPIC restores its own view of the line).
struct UartState {
  static constexpr uint64_t kMaxLine = 4096;
  uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0;
  uint64_t bytes_written = 0;
  std::string line;
  uint8_t fcr = 0;
  bool thre_pending = false, irq_line = false;
  static void fields(auto& s, auto& io) {
    io(s.ier, s.lcr, s.mcr, s.scr, s.dll, s.dlm, s.bytes_written);
    io.str(s.line, kMaxLine);
    if (io.since(3)) io(s.fcr, s.thre_pending, s.irq_line);
  }
};

class Uart16550 {
 public:
  static constexpr uint16_t kCom1 = 0x3f8;
  static constexpr size_t kMaxLine = UartState::kMaxLine;
  using LineSink = std::function<void(std::string_view line)>;  // one console line, without '\n'
  using IrqSink = std::function<void(bool asserted)>;             // the interrupt line changed

  explicit Uart16550(LineSink sink, uint16_t base = kCom1);

  void set_irq_sink(IrqSink sink) { irq_sink_ = std::move(sink); }
  [[nodiscard]] bool irq_line() const { return irq_line_; }

  [[nodiscard]] bool handles(uint16_t port) const;
  [[nodiscard]] uint8_t read(uint16_t port);
  void write(uint16_t port, uint8_t value);
  void flush();  // emits a pending partial line, if any
  [[nodiscard]] uint64_t bytes_written() const { return bytes_written_; }
  [[nodiscard]] UartState save() const;
  void restore(const UartState& s);

 private:
  void transmit(uint8_t byte);
  // Recomputes the interrupt line and tells the sink when it changed.
  void update_irq();
  void emit();  // hands line_ to the sink and clears it
  [[nodiscard]] bool dlab() const { return (lcr_ & 0x80) != 0; }

  LineSink sink_;
  uint16_t base_;
  uint8_t ier_ = 0;
  uint8_t lcr_ = 0x03;  // 8N1, the usual reset-time setting
  uint8_t mcr_ = 0;
  uint8_t scr_ = 0;
  uint8_t dll_ = 0x01;  // divisor 1: 115200 baud
  uint8_t dlm_ = 0;
  uint8_t fcr_ = 0;           // bit 0: FIFOs enabled
  bool thre_pending_ = false;  // "THR empty" interrupt not yet acknowledged
  bool irq_line_ = false;
  IrqSink irq_sink_;
  uint64_t bytes_written_ = 0;
  std::string line_;
};

}  // namespace densevm
