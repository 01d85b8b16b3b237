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

#include "core/persist.h"

namespace densevm {

// The UART's part of a checkpoint (core/persist.h): its registers and the pending partial
// line, so that a restored console finishes the line it was in.
struct UartState {
  static constexpr uint64_t kMaxLine = 4096;
  uint8_t ier = 0, lcr = 0, mcr = 0, scr = 0, dll = 0, dlm = 0;
  uint64_t bytes_written = 0;
  std::string line;
  static void fields(auto& s, auto& io) {
    io(s.ier, s.lcr, s.mcr, s.scr, s.dll, s.dlm, s.bytes_written);
    io.str(s.line, kMaxLine);
  }
};

class Uart16550 {
 public:
  static constexpr uint16_t kCom1 = 0x3f8;
  static constexpr size_t kMaxLine = UartState::kMaxLine;
  using LineSink = std::function<void(std::string_view line)>;  // one console line, without '\n'

  explicit Uart16550(LineSink sink, uint16_t base = kCom1);

  [[nodiscard]] bool handles(uint16_t port) const;
  [[nodiscard]] uint8_t read(uint16_t port);
  void write(uint16_t port, uint8_t value);
  void flush();  // emits a pending partial line, if any
  [[nodiscard]] uint64_t bytes_written() const { return bytes_written_; }
  [[nodiscard]] UartState save() const;
  void restore(const UartState& s);

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
