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

}  // namespace

Uart16550::Uart16550(LineSink sink, uint16_t base) : sink_(std::move(sink)), base_(base) {}

bool Uart16550::handles(uint16_t port) const { return port >= base_ && port - base_ < 8; }

uint8_t Uart16550::read(uint16_t port) {
  if (!handles(port)) return 0xff;
  switch (port - base_) {
    case kRbrThrDll: return dlab() ? dll_ : 0;
    case kIerDlm: return dlab() ? dlm_ : ier_;
    case kIir: return kIirNoIrq;
    case kLcr: return lcr_;
    case kMcr: return mcr_;
    case kLsr: return kLsrIdle;
    case kMsr: return kMsrIdle;
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
      } else {
        transmit(value);
      }
      return;
    case kIerDlm:
      (dlab() ? dlm_ : ier_) = value;
      return;
    case kLcr: lcr_ = value; return;
    case kMcr: mcr_ = value; return;
    case kScr: scr_ = value; return;
    default: return;  // FCR (write side of IIR), LSR and MSR writes have no effect here
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

void Uart16550::emit() {
  if (sink_) sink_(line_);
  line_.clear();
}

void Uart16550::flush() {
  if (!line_.empty()) emit();
}

}  // namespace densevm
