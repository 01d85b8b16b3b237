#include "vmm/devices/uart16550.h"

#include <utility>

namespace densevm {
namespace {

// Register offsets from the base port (PC16550D datasheet, table 2).
constexpr uint16_t kRbrThrDll = 0, kIerDlm = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6,
                   kScr = 7;
constexpr uint8_t kLsrIdle = 0x60;  // THRE | TEMT: always ready to send, nothing received
constexpr uint8_t kMsrIdle = 0xb0;  // DCD | DSR | CTS: a modem-less null cable
constexpr uint8_t kIirNoIrq = 0x01;
constexpr uint8_t kIirThre = 0x02;
constexpr uint8_t kIirFifos = 0xc0;  // FIFOs enabled (16550A)
constexpr uint8_t kIerEtbei = 0x02;  // interrupt on THR empty
constexpr uint8_t kMcrOut2 = 0x08, kMcrLoop = 0x10;

}  // namespace

Uart16550::Uart16550(LineSink sink, uint16_t base) : sink_(std::move(sink)), base_(base) {}

bool Uart16550::handles(uint16_t port) const { return port >= base_ && port - base_ < 8; }

uint8_t Uart16550::read(uint16_t port) {
  if (!handles(port)) return 0xff;
  switch (port - base_) {
    case kRbrThrDll: return dlab() ? dll_ : 0;
    case kIerDlm: return dlab() ? dlm_ : ier_;
    case kIir: {
      const uint8_t fifos = (fcr_ & 1) ? kIirFifos : 0;
      if (!(thre_pending_ && (ier_ & kIerEtbei))) return fifos | kIirNoIrq;
      thre_pending_ = false;  // reading IIR acknowledges "THR empty"
      update_irq();
      return fifos | kIirThre;
    }
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: return kLsrIdle;
    case kMsr: {
      if (!(mcr_ & kMcrLoop)) return kMsrIdle;
      // Loopback: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2 (datasheet, MCR bit 4).
      return static_cast<uint8_t>(((mcr_ & 0x02) << 3) | ((mcr_ & 0x01) << 5) | ((mcr_ & 0x04) << 4) |
                                  ((mcr_ & 0x08) << 4));
    }
    case kScr: return scr_;
  }
  return 0xff;
}

void Uart16550::write(uint16_t port, uint8_t value) {
  if (!handles(port)) return;
  switch (port - base_) {
    case kRbrThrDll:
      if (dlab()) {
        dll_ = value;
        return;
      }
      // Writing THR clears "THR empty"; the byte leaves at once and it is pending again.
      thre_pending_ = false;
      update_irq();
      if (!(mcr_ & kMcrLoop)) transmit(value);
      thre_pending_ = true;
      update_irq();
      return;
    case kIerDlm:
      if (dlab()) {
        dlm_ = value;
        return;
      }
      // Enabling ETBEI while THR is empty raises the interrupt (the 16550's behaviour
      // Linux checks for at startup).
      if (!(ier_ & kIerEtbei) && (value & kIerEtbei)) thre_pending_ = true;
      ier_ = value & 0x0f;
      update_irq();
      return;
    case kIir: fcr_ = value & 0x01; return;  // FCR: only "FIFOs enabled" is kept
    case kLcr: lcr_ = value; return;
    case kMcr:
      mcr_ = value & 0x1f;
      update_irq();
      return;
    case kScr: scr_ = value; return;
    default: return;  // LSR and MSR writes have no effect here
  }
}

void Uart16550::transmit(uint8_t byte) {
  ++bytes_written_;
  if (byte == '\r') return;
  if (byte == '\n') {
    emit();
    return;
  }
  // Only printable ASCII and tab reach the host's terminal: no escape sequences (C0 or C1) from
  // the guest. UTF-8 is lost too; a console for kernel logs does not need it.
  const bool printable = byte == '\t' || (byte >= 0x20 && byte < 0x7f);
  // Cut before appending, so a line of exactly kMaxLine bytes is not followed by an empty one.
  if (line_.size() == kMaxLine) emit();
  line_.push_back(printable ? static_cast<char>(byte) : '?');
}

void Uart16550::update_irq() {
  const bool line = thre_pending_ && (ier_ & kIerEtbei) && (mcr_ & kMcrOut2);
  if (line == irq_line_) return;
  irq_line_ = line;
  if (irq_sink_) irq_sink_(line);
}

void Uart16550::emit() {
  if (sink_) sink_(line_);
  line_.clear();
}

void Uart16550::flush() {
  if (!line_.empty()) emit();
}

}  // namespace densevm
