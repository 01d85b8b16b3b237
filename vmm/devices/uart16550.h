// Uart16550: a 16550 UART at ports base..base+7, as much as a polled console driver needs.
//
// Transmit only: the line is always idle (LSR says THR and transmitter empty) and there is no
// input or interrupt. Bytes the guest writes are collected into lines and handed to a sink.
// The guest is untrusted: bytes other than printable ASCII and '\t' are shown as '?' (no
// terminal escape sequences reach the host), and lines are cut into 4096-byte pieces.
//
//   Uart16550 uart([](std::string_view line) { std::cout << line << '\n'; });
//   if (uart.handles(port)) uart.write(port, value);
//   uart.flush();  // at VM exit
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/snapshot_state.h"

namespace densevm {

class Uart16550 {
 public:
  static constexpr uint16_t kCom1 = 0x3f8;
  static constexpr size_t kMaxLine = 4096;
  using LineSink = std::function<void(std::string_view line)>;  // one console line, without '\n'

  explicit Uart16550(LineSink sink, uint16_t base = kCom1);

  [[nodiscard]] bool handles(uint16_t port) const;
  [[nodiscard]] uint8_t read(uint16_t port);
  void write(uint16_t port, uint8_t value);
  void flush();  // emits a pending partial line, if any
  [[nodiscard]] uint64_t bytes_written() const { return bytes_written_; }
  // Checkpoint contract (vmm/snapshot_state.h): registers and the pending partial line, so
  // a restored console finishes the line it was in. restore throws StateError.
  void save(StateWriter& w) const;
  void restore(StateReader& r);

 private:
  void transmit(uint8_t byte);
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
  uint64_t bytes_written_ = 0;
  std::string line_;
};

}  // namespace densevm
