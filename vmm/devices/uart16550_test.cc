#include "vmm/devices/uart16550.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace densevm {
namespace {

class UartTest : public ::testing::Test {
 protected:
  void send(std::string_view text) {
    for (char c : text) uart.write(Uart16550::kCom1, static_cast<uint8_t>(c));
  }
  std::vector<std::string> lines;
  Uart16550 uart{[this](std::string_view line) { lines.emplace_back(line); }};
};

TEST_F(UartTest, HandlesItsEightPorts) {
  EXPECT_FALSE(uart.handles(0x3f7));
  EXPECT_TRUE(uart.handles(0x3f8));
  EXPECT_TRUE(uart.handles(0x3ff));
  EXPECT_FALSE(uart.handles(0x400));
  Uart16550 com2([](std::string_view) {}, 0x2f8);
  EXPECT_TRUE(com2.handles(0x2fa));
  EXPECT_FALSE(com2.handles(0x3f8));
  Uart16550 top([](std::string_view) {}, 0xfffc);  // no wrap-around at the top of port space
  EXPECT_TRUE(top.handles(0xffff));
  EXPECT_FALSE(top.handles(0x0003));
}

TEST_F(UartTest, CollectsLines) {
  send("hello\r\nworld\n");
  send("partial");
  EXPECT_EQ(lines, (std::vector<std::string>{"hello", "world"}));
  uart.flush();
  uart.flush();
  EXPECT_EQ(lines, (std::vector<std::string>{"hello", "world", "partial"}));
  EXPECT_EQ(uart.bytes_written(), 20u);
}

TEST_F(UartTest, NeutralisesControlBytes) {
  send("a\tb\x1b[2Jc\x07\x7f\x9b");
  uart.write(0x3f8, 0xff);
  send("\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"a\tb?[2Jc????"}));
}

TEST_F(UartTest, SplitsLongLines) {
  send(std::string(Uart16550::kMaxLine, 'x'));
  EXPECT_TRUE(lines.empty());
  send("\n");
  ASSERT_EQ(lines.size(), 1u);  // exactly kMaxLine bytes: one line, no empty follower
  send(std::string(2 * Uart16550::kMaxLine + 5, 'y') + "\n");
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].size(), Uart16550::kMaxLine);
  EXPECT_EQ(lines[2].size(), Uart16550::kMaxLine);
  EXPECT_EQ(lines[3], "yyyyy");
}

TEST_F(UartTest, RegistersAsAPolledDriverSeesThem) {
  EXPECT_EQ(uart.read(0x3fd), 0x60);  // LSR: THR empty, transmitter empty
  EXPECT_EQ(uart.read(0x3fa), 0x01);  // IIR: no interrupt
  EXPECT_EQ(uart.read(0x3f8), 0x00);  // RBR: no input
  EXPECT_EQ(uart.read(0x3fe), 0xb0);  // MSR
  uart.write(0x3f9, 0x05);
  uart.write(0x3fc, 0x0b);
  uart.write(0x3ff, 0x5a);
  EXPECT_EQ(uart.read(0x3f9), 0x05);
  EXPECT_EQ(uart.read(0x3fc), 0x0b);
  EXPECT_EQ(uart.read(0x3ff), 0x5a);
  EXPECT_EQ(uart.read(0x3f0), 0xff);  // not ours
}

TEST_F(UartTest, DivisorLatchBehindDlab) {
  uart.write(0x3f9, 0x01);  // IER
  uart.write(0x3fb, 0x80);  // DLAB on
  uart.write(0x3f8, 0x03);  // divisor 3: 38400 baud
  uart.write(0x3f9, 0x00);
  EXPECT_EQ(uart.read(0x3fb), 0x80);
  EXPECT_EQ(uart.read(0x3f8), 0x03);
  EXPECT_EQ(uart.read(0x3f9), 0x00);
  uart.write(0x3fb, 0x03);            // DLAB off, 8N1
  EXPECT_EQ(uart.read(0x3f9), 0x01);  // IER untouched by the latch writes
  EXPECT_EQ(uart.bytes_written(), 0u);
  send("ok\n");
  EXPECT_EQ(lines, (std::vector<std::string>{"ok"}));
}

// What Linux's 8250 driver relies on: THR-empty interrupts (IIR 0x02, acknowledged by
// reading IIR), gated by OUT2, and a line that drops on each THR write so an edge-triggered
// IOAPIC pin sees each one.
TEST_F(UartTest, ThrEmptyInterruptsAndTheirLine) {
  std::vector<bool> edges;
  uart.set_irq_sink([&](bool up) { edges.push_back(up); });
  uart.write(0x3fc, 0x08);  // MCR: OUT2
  EXPECT_EQ(uart.read(0x3fa), 0x01) << "nothing enabled";
  uart.write(0x3f9, 0x02);  // IER: ETBEI, with THR empty: pending at once
  EXPECT_TRUE(uart.irq_line());
  EXPECT_EQ(uart.read(0x3fa), 0x02) << "THR empty";
  EXPECT_FALSE(uart.irq_line()) << "reading IIR acknowledged it";
  EXPECT_EQ(uart.read(0x3fa), 0x01);
  send("a");
  EXPECT_TRUE(uart.irq_line()) << "sent, empty again";
  send("b");  // pending already: the line drops and rises again
  EXPECT_EQ(edges, (std::vector<bool>{true, false, true, false, true}));
  uart.write(0x3fc, 0x00);  // OUT2 off: the line is gated
  EXPECT_FALSE(uart.irq_line());
  EXPECT_EQ(uart.read(0x3fa), 0x02) << "still pending in IIR";
}

TEST_F(UartTest, FifosAndLoopbackAsLinuxProbesThem) {
  uart.write(0x3fa, 0x01);  // FCR: enable FIFOs
  EXPECT_EQ(uart.read(0x3fa) & 0xc0, 0xc0) << "16550A";
  uart.write(0x3fc, 0x10 | 0x0a);  // loopback, RTS, OUT2
  EXPECT_EQ(uart.read(0x3fe) & 0xf0, 0x90) << "CTS and DCD follow RTS and OUT2";
  send("x");
  EXPECT_EQ(uart.bytes_written(), 0u) << "loopback sends nothing out";
}

}  // namespace
}  // namespace densevm
