// CmosRtc: the PC's MC146818 real-time clock and CMOS RAM at ports 0x70 (index, bit 7
// masks NMI) and 0x71 (data), driven by virtual time so every run reads the same clock.
//
// The clock reads `epoch` (Unix seconds) plus the VM's virtual time (1 virtual second =
// 10^9 units), plus whatever the guest set it to since; it ticks at whole virtual seconds,
// with UIP (register A bit 7) up for the 244 us before each tick as on the part (datasheet:
// "update cycle"), so Linux's wait for UIP to clear ends at once or after 244 us of virtual
// time, never in a 1-second timeout. Registers 0-9 and 0x32 (century, as the FADT says)
// read in BCD or binary and 24- or 12-hour form by register B; writes to them set the
// clock. Register D says the RAM and time are valid. Periodic, alarm and update interrupts
// are not modelled (register C reads 0, IRQ 8 never rises); the other CMOS bytes are plain
// RAM.
//
//   CmosRtc rtc;                              // 2025-01-01 00:00:00 UTC at virtual time 0
//   rtc.write(0x70, 0x00, now); uint8_t sec = rtc.read(0x71, now);   // BCD seconds
#pragma once

#include <array>
#include <cstdint>

#include "core/persist.h"

namespace densevm {

// The clock's part of a checkpoint (core/persist.h; records of version 3 on). The default is
// a VM's clock at reset, CmosRtc(): what a VM restored from an older record has.
struct RtcState {
  static constexpr uint64_t kDefaultEpoch = 1735689600;  // 2025-01-01T00:00:00Z
  // CMOS RAM at reset: register A 0x26 (32.768 kHz time base, 1024 Hz rate: what firmware
  // leaves), B 0x02 (24-hour, BCD), D 0x80 (RAM and time valid); the rest 0.
  static constexpr std::array<uint8_t, 128> kResetRam = [] {
    std::array<uint8_t, 128> ram{};
    ram[0x0a] = 0x26;
    ram[0x0b] = 0x02;
    ram[0x0d] = 0x80;
    return ram;
  }();
  uint64_t epoch = kDefaultEpoch;
  int64_t offset = 0;
  uint8_t index = 0;
  bool nmi_masked = false;
  std::array<uint8_t, 128> ram = kResetRam;
  static void fields(auto& s, auto& io) { io(s.epoch, s.offset, s.index, s.nmi_masked, s.ram); }
};

class CmosRtc {
 public:
  static constexpr uint64_t kDefaultEpoch = RtcState::kDefaultEpoch;
  static constexpr uint64_t kTicksPerSecond = 1'000'000'000;

  explicit CmosRtc(uint64_t epoch = kDefaultEpoch) : epoch_(epoch) {}

  [[nodiscard]] static bool handles(uint16_t port) { return port == 0x70 || port == 0x71; }
  [[nodiscard]] uint8_t read(uint16_t port, uint64_t now);
  void write(uint16_t port, uint8_t value, uint64_t now);
  // Seconds since the Unix epoch the clock shows at `now`.
  [[nodiscard]] int64_t unix_time(uint64_t now) const;

  [[nodiscard]] RtcState save() const;
  void restore(const RtcState& s);

 private:
  [[nodiscard]] uint8_t read_register(uint8_t index, uint64_t now) const;
  void write_register(uint8_t index, uint8_t value, uint64_t now);
  [[nodiscard]] uint8_t encode(unsigned value) const;  // BCD unless register B says binary
  [[nodiscard]] unsigned decode(uint8_t value) const;

  uint64_t epoch_;
  int64_t offset_ = 0;  // seconds the guest moved the clock by
  uint8_t index_ = 0;
  bool nmi_masked_ = false;
  std::array<uint8_t, 128> ram_ = RtcState::kResetRam;  // registers A-D live here too; the time does not
};

}  // namespace densevm
