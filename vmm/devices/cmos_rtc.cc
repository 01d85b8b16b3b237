#include "vmm/devices/cmos_rtc.h"

#include <chrono>

namespace densevm {
namespace {

// MC146818 register indices.
enum : uint8_t {
  kSeconds = 0x00, kMinutes = 0x02, kHours = 0x04, kWeekday = 0x06, kDay = 0x07, kMonth = 0x08,
  kYear = 0x09, kRegA = 0x0a, kRegB = 0x0b, kRegC = 0x0c, kRegD = 0x0d, kCentury = 0x32,
};
constexpr uint8_t kUip = 0x80;         // A: update in progress
constexpr uint8_t kBinary = 0x04;      // B: DM, binary instead of BCD
constexpr uint8_t kTwentyFour = 0x02;  // B: 24-hour mode
constexpr uint8_t kValid = 0x80;       // D: VRT, RAM and time valid
constexpr uint64_t kUpdateCycle = 244'000;  // UIP is up this long before each tick
static_assert(RtcState::kResetRam[kRegB] == kTwentyFour && RtcState::kResetRam[kRegD] == kValid);

struct Civil {
  unsigned second, minute, hour, weekday, day, month, year;
};

Civil civil(int64_t t) {
  using namespace std::chrono;
  const int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  const int64_t secs = t - days * 86400;
  const sys_days d{std::chrono::days{days}};
  const year_month_day ymd{d};
  return {static_cast<unsigned>(secs % 60),  static_cast<unsigned>(secs / 60 % 60),
          static_cast<unsigned>(secs / 3600), weekday{d}.c_encoding() + 1,  // Sunday = 1
          static_cast<unsigned>(ymd.day()),   static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(static_cast<int>(ymd.year()))};
}

int64_t unix_of(const Civil& c) {
  using namespace std::chrono;
  const year_month_day ymd{year{static_cast<int>(c.year)}, month{c.month}, day{c.day}};
  // An impossible date (say, 31 February) rolls over, as sys_days of it does.
  const int64_t days = sys_days{ymd}.time_since_epoch().count();
  return days * 86400 + c.hour * 3600 + c.minute * 60 + c.second;
}

}  // namespace

int64_t CmosRtc::unix_time(uint64_t now) const {
  return static_cast<int64_t>(epoch_ + now / kTicksPerSecond) + offset_;
}

uint8_t CmosRtc::encode(unsigned v) const {
  if (ram_[kRegB] & kBinary) return static_cast<uint8_t>(v);
  return static_cast<uint8_t>(((v / 10) % 10) << 4 | (v % 10));
}

unsigned CmosRtc::decode(uint8_t v) const {
  if (ram_[kRegB] & kBinary) return v;
  return (v >> 4) * 10 + (v & 0xf);
}

uint8_t CmosRtc::read(uint16_t port, uint64_t now) {
  if (port == 0x70) return 0xff;  // the index register is write-only
  return read_register(index_, now);
}

void CmosRtc::write(uint16_t port, uint8_t value, uint64_t now) {
  if (port == 0x70) {
    index_ = value & 0x7f;
    nmi_masked_ = (value & 0x80) != 0;
    return;
  }
  write_register(index_, value, now);
}

uint8_t CmosRtc::read_register(uint8_t index, uint64_t now) const {
  const Civil c = civil(unix_time(now));
  switch (index) {
    case kSeconds: return encode(c.second);
    case kMinutes: return encode(c.minute);
    case kHours: {
      if (ram_[kRegB] & kTwentyFour) return encode(c.hour);
      const unsigned h12 = c.hour % 12 == 0 ? 12 : c.hour % 12;
      return static_cast<uint8_t>(encode(h12) | (c.hour >= 12 ? 0x80 : 0));
    }
    case kWeekday: return encode(c.weekday);
    case kDay: return encode(c.day);
    case kMonth: return encode(c.month);
    case kYear: return encode(c.year % 100);
    case kCentury: return encode(c.year / 100);
    case kRegA: {
      const bool updating = now % kTicksPerSecond >= kTicksPerSecond - kUpdateCycle;
      return static_cast<uint8_t>((ram_[kRegA] & 0x7f) | (updating ? kUip : 0));
    }
    case kRegC: return 0;
    case kRegD: return kValid;
    default: return ram_[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, uint64_t now) {
  Civil c = civil(unix_time(now));
  switch (index) {
    case kSeconds: c.second = decode(value) % 60; break;
    case kMinutes: c.minute = decode(value) % 60; break;
    case kHours:
      if (ram_[kRegB] & kTwentyFour) {
        c.hour = decode(value) % 24;
      } else {
        c.hour = decode(value & 0x7f) % 12 + ((value & 0x80) ? 12 : 0);
      }
      break;
    case kWeekday: return;  // derived from the date
    case kDay: c.day = decode(value); break;
    case kMonth: c.month = decode(value); break;
    case kYear: c.year = c.year / 100 * 100 + decode(value) % 100; break;
    case kCentury: c.year = decode(value) * 100 + c.year % 100; break;
    case kRegA: ram_[kRegA] = value & 0x7f; return;  // UIP is read-only
    case kRegB: ram_[kRegB] = value; return;
    case kRegC:
    case kRegD: return;  // read-only
    default: ram_[index] = value; return;
  }
  if (c.day == 0 || c.month == 0 || c.month > 12) return;  // not a date: the clock keeps going
  offset_ += unix_of(c) - unix_time(now);
}

}  // namespace densevm
