#include "vmm/devices/io_apic.h"

namespace densevm {
namespace {

// Redirection entry bits (82093AA datasheet, 3.2.4).
constexpr uint64_t kVector = 0xff;
constexpr uint64_t kDeliveryMode = 7u << 8;  // 000 fixed, 001 lowest priority
constexpr uint64_t kRemoteIrr = 1u << 14;    // read-only: a level interrupt awaits its EOI
constexpr uint64_t kLevel = 1u << 15;
constexpr uint64_t kMasked = 1u << 16;
// Software may write vector, delivery mode, destination mode, polarity, trigger mode, mask
// and the destination; delivery status (12) and Remote IRR (14) are read-only.
constexpr uint64_t kWritable = 0xff000000000000ffull | (7u << 8) | (1u << 11) | (1u << 13) | kLevel | kMasked;

constexpr uint8_t kRegId = 0x00, kRegVersion = 0x01, kRegArbitration = 0x02, kRegRedirection = 0x10;

}  // namespace

uint32_t IoApic::read(uint64_t offset, unsigned size) {
  if (size != 4) return 0;
  if (offset == 0x00) return select_;
  if (offset == 0x10) return read_register(select_);
  return 0;
}

void IoApic::write(uint64_t offset, unsigned size, uint32_t value) {
  if (size != 4) return;
  if (offset == 0x00) {
    select_ = static_cast<uint8_t>(value);
  } else if (offset == 0x10) {
    write_register(select_, value);
  }
}

uint32_t IoApic::read_register(uint8_t index) const {
  switch (index) {
    case kRegId: return id_;
    case kRegVersion: return kVersion;
    case kRegArbitration: return id_;
    default: break;
  }
  if (index < kRegRedirection || index >= kRegRedirection + 2 * kPins) return 0;
  const uint64_t e = redirection_[(index - kRegRedirection) / 2];
  return static_cast<uint32_t>((index & 1) ? e >> 32 : e);
}

void IoApic::write_register(uint8_t index, uint32_t value) {
  if (index == kRegId) {
    id_ = value & 0x0f000000;  // bits 27:24
    return;
  }
  if (index < kRegRedirection || index >= kRegRedirection + 2 * kPins) return;  // read-only or none
  const unsigned pin = (index - kRegRedirection) / 2;
  uint64_t& e = redirection_[pin];
  const uint64_t old = e;
  const uint64_t image = (index & 1) ? (uint64_t{value} << 32) | (e & 0xffffffff)
                                     : (e & 0xffffffff00000000ull) | value;
  e = (image & kWritable) | (old & kRemoteIrr);
  // An edge-triggered entry has no Remote IRR: setting edge mode clears it (the way Linux
  // retires a stuck level interrupt on version 0x11 parts).
  if (!(e & kLevel)) e &= ~kRemoteIrr;
  if (e & kLevel) service(pin);  // e.g. unmasked with the line up: the interrupt is due now
}

void IoApic::set_line(unsigned pin, bool asserted) {
  if (pin >= kPins) return;
  const uint32_t bit = 1u << pin;
  const bool was = (lines_ & bit) != 0;
  lines_ = asserted ? lines_ | bit : lines_ & ~bit;
  if (!asserted) return;
  const bool level = (redirection_[pin] & kLevel) != 0;
  if (level || !was) service(pin);
}

void IoApic::end_of_interrupt(uint8_t vector) {
  for (unsigned pin = 0; pin < kPins; ++pin) {
    uint64_t& e = redirection_[pin];
    if ((e & kRemoteIrr) && (e & kVector) == vector) {
      e &= ~kRemoteIrr;
      service(pin);
    }
  }
}

void IoApic::service(unsigned pin) {
  uint64_t& e = redirection_[pin];
  if ((e & kMasked) || !(lines_ & (1u << pin))) return;
  if ((e & kDeliveryMode) > (1u << 8)) return;  // only fixed and lowest priority
  const bool level = (e & kLevel) != 0;
  if (level && (e & kRemoteIrr)) return;
  const auto vector = static_cast<uint8_t>(e & kVector);
  if (vector < 16) return;  // illegal vectors (SDM 10.5.2): the APIC would reject them
  if (level) e |= kRemoteIrr;
  ++delivered_;
  sink_.accept_interrupt(vector, level);
}

}  // namespace densevm
