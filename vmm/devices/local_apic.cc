#include "vmm/devices/local_apic.h"

#include <bit>
#include <limits>

namespace densevm {
namespace {

// Register offsets (SDM Vol 3A, table 11-1).
enum Reg : uint64_t {
  kId = 0x20,
  kVersionReg = 0x30,
  kTpr = 0x80,
  kEoi = 0xb0,
  kLdr = 0xd0,
  kDfr = 0xe0,
  kSvr = 0xf0,
  kIsr = 0x100,
  kTmr = 0x180,
  kIrr = 0x200,
  kEsr = 0x280,
  kIcrLow = 0x300,
  kIcrHigh = 0x310,
  kLvtTimer = 0x320,
  kLvtLint0 = 0x350,
  kLvtLint1 = 0x360,
  kLvtError = 0x370,
  kInitialCount = 0x380,
  kCurrentCount = 0x390,
  kDivideConfig = 0x3e0,
};

constexpr uint32_t kLvtMasked = 1u << 16;
// Timer mode, bits 18:17: 00 one-shot, 01 periodic, 10 TSC-deadline (SDM Table 11-2).
constexpr uint32_t kTimerPeriodic = 1u << 17;
constexpr uint32_t kTimerTscDeadline = 1u << 18;
constexpr uint32_t kTimerMode = kTimerPeriodic | kTimerTscDeadline;

// Highest set vector, or -1. Bit v of the 256-bit set is bit v%32 of word v/32, as in ISR/IRR.
int highest(const std::array<uint32_t, 8>& set) {
  for (int word = 7; word >= 0; --word) {
    if (set[word] != 0) return word * 32 + 31 - std::countl_zero(set[word]);
  }
  return -1;
}

void assign(std::array<uint32_t, 8>& set, int vector, bool on) {
  const uint32_t bit = 1u << (vector % 32);
  set[vector / 32] = on ? set[vector / 32] | bit : set[vector / 32] & ~bit;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  uint64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<uint64_t>::max() : sum;
}

}  // namespace

uint64_t LocalApic::divisor() const {
  // Bits 3,1,0 (SDM 11.5.4): 000 = 2, 001 = 4, ... 110 = 128, 111 = 1.
  const uint32_t code = ((divide_config_ >> 1) & 4) | (divide_config_ & 3);
  return code == 7 ? 1 : uint64_t{2} << code;
}

void LocalApic::arm(uint64_t now, uint64_t count) {
  deadline_ = saturating_add(now, count * divisor());
}

void LocalApic::mask_all_lvts() {
  for (uint32_t* lvt : {&lvt_timer_, &lvt_lint0_, &lvt_lint1_, &lvt_error_}) *lvt |= kLvtMasked;
}

uint32_t LocalApic::current_count(uint64_t now) const {
  if (!deadline_ || tsc_deadline_mode()) return 0;  // the count is unused in TSC-deadline mode
  const uint64_t div = divisor();
  uint64_t remaining = 0;
  if (now < *deadline_) {
    remaining = *deadline_ - now;
  } else if ((lvt_timer_ & kTimerMode) == kTimerPeriodic) {
    const uint64_t period = uint64_t{initial_count_} * div;
    remaining = period - (now - *deadline_) % period;
  }
  const uint64_t count = (remaining + div - 1) / div;
  return count > initial_count_ ? initial_count_ : static_cast<uint32_t>(count);
}

std::optional<uint64_t> LocalApic::next_deadline() const { return deadline_; }

void LocalApic::advance(uint64_t now) {
  if (!deadline_ || now < *deadline_) return;
  const uint8_t vector = lvt_timer_ & 0xff;
  // Vectors 0-15 are illegal for the APIC (SDM 11.5.2); such a timer counts but never delivers.
  if ((lvt_timer_ & kLvtMasked) == 0 && vector >= 16) set_vector(vector);
  if ((lvt_timer_ & kTimerMode) != kTimerPeriodic || initial_count_ == 0) {
    ++timer_expiries_;
    deadline_.reset();
    return;
  }
  const uint64_t period = uint64_t{initial_count_} * divisor();
  const uint64_t missed = (now - *deadline_) / period + 1;
  timer_expiries_ += missed;
  uint64_t step = 0;
  deadline_ = __builtin_mul_overflow(missed, period, &step) ? std::numeric_limits<uint64_t>::max()
                                                            : saturating_add(*deadline_, step);
}

uint32_t LocalApic::read(uint64_t offset, uint64_t now) {
  if (offset >= kSize || offset % 16 != 0) return 0;
  advance(now);
  if (offset >= kIsr && offset < kTmr) return isr_[(offset - kIsr) / 16];
  if (offset >= kTmr && offset < kIrr) return tmr_[(offset - kTmr) / 16];
  if (offset >= kIrr && offset < kIrr + 0x80) return irr_[(offset - kIrr) / 16];
  switch (offset) {
    case kId: return 0;
    case kVersionReg: return kVersion;
    case kTpr: return tpr_;
    case kLdr: return ldr_;
    case kDfr: return dfr_;
    case kSvr: return svr_;
    case kLvtTimer: return lvt_timer_;
    case kLvtLint0: return lvt_lint0_;
    case kLvtLint1: return lvt_lint1_;
    case kLvtError: return lvt_error_;
    case kIcrHigh: return icr_high_;
    case kInitialCount: return initial_count_;
    case kCurrentCount: return current_count(now);
    case kDivideConfig: return divide_config_;
    default: return 0;
  }
}

void LocalApic::write(uint64_t offset, uint32_t value, uint64_t now) {
  if (offset >= kSize || offset % 16 != 0) return;
  advance(now);
  // A software-disabled APIC keeps every LVT masked (SDM 11.4.7.2).
  const uint32_t forced_mask = software_enabled() ? 0 : kLvtMasked;
  switch (offset) {
    case kTpr: tpr_ = value & 0xff; return;
    case kEoi: {
      const int vector = highest(isr_);
      if (vector < 0) return;
      assign(isr_, vector, false);
      // A level-triggered vector's EOI goes to the IOAPIC, which may deliver it again.
      if ((tmr_[vector / 32] >> (vector % 32)) & 1) {
        assign(tmr_, vector, false);
        if (ioapic_ != nullptr) ioapic_->end_of_interrupt(static_cast<uint8_t>(vector));
      }
      return;
    }
    case kIcrHigh: icr_high_ = value & 0xff000000; return;
    case kIcrLow: {
      // Fixed delivery (10:8 = 0) to this APIC: shorthand self (01), all including self
      // (10), or no shorthand with destination APIC ID 0 in physical mode.
      const uint32_t shorthand = (value >> 18) & 3, mode = (value >> 8) & 7;
      const bool to_us = shorthand == 1 || shorthand == 2 ||
                         (shorthand == 0 && !(value & (1u << 11)) && (icr_high_ >> 24) == 0);
      if (mode == 0 && to_us && (value & 0xff) >= 16) set_vector(static_cast<uint8_t>(value));
      return;
    }
    case kLdr: ldr_ = value & 0xff000000; return;  // logical APIC ID, bits 31:24
    case kDfr: dfr_ = value | 0x0fffffff; return;  // model in bits 31:28; the rest read 1
    case kSvr:
      svr_ = value & 0x3ff;  // no EOI-broadcast suppression (version bit 24 is 0)
      if (!software_enabled()) mask_all_lvts();
      return;
    case kLvtTimer: {
      const uint32_t mode = lvt_timer_ & kTimerMode;
      lvt_timer_ = (value & (0xff | kLvtMasked | kTimerMode)) | forced_mask;
      // Changing the mode disarms the timer (SDM 11.5.4.1).
      if ((lvt_timer_ & kTimerMode) != mode) deadline_.reset();
      return;
    }
    // LINT: vector 7:0, delivery mode 10:8, polarity 13, trigger mode 15, mask 16.
    case kLvtLint0: lvt_lint0_ = (value & 0x1a7ff) | forced_mask; return;
    case kLvtLint1: lvt_lint1_ = (value & 0x1a7ff) | forced_mask; return;
    case kLvtError: lvt_error_ = (value & (0xff | kLvtMasked)) | forced_mask; return;
    case kInitialCount:
      if (tsc_deadline_mode()) return;  // ignored in TSC-deadline mode
      initial_count_ = value;
      deadline_.reset();  // writing 0 stops the timer (SDM 11.5.4)
      if (value != 0) arm(now, value);
      return;
    case kDivideConfig: {
      // The count keeps its value and continues at the new rate; the partial tick is dropped.
      const uint32_t count = current_count(now);
      divide_config_ = value & 0xb;
      if (deadline_ && !tsc_deadline_mode()) arm(now, count);
      return;
    }
    default: return;  // read-only and unknown registers
  }
}

bool LocalApic::has_pending_interrupt() const {
  if (!software_enabled()) return false;
  const int requested = highest(irr_);
  if (requested < 0) return false;
  // Delivery needs a higher priority class (bits 7:4) than anything in service (SDM 11.8.3.1).
  const int in_service = highest(isr_);
  return in_service < 0 || (requested >> 4) > (in_service >> 4);
}

uint8_t LocalApic::acknowledge_interrupt() {
  const int vector = highest(irr_);
  if (vector < 0) return static_cast<uint8_t>(svr_ & 0xff);  // spurious vector, as on hardware
  assign(irr_, vector, false);
  assign(isr_, vector, true);
  return static_cast<uint8_t>(vector);
}

void LocalApic::set_vector(uint8_t vector) {
  assign(irr_, vector, true);
  assign(tmr_, vector, false);
}

void LocalApic::accept_interrupt(uint8_t vector, bool level) {
  if (vector < 16) return;  // illegal vector (SDM 11.5.2)
  assign(irr_, vector, true);
  assign(tmr_, vector, level);
}

bool LocalApic::tsc_deadline_mode() const { return (lvt_timer_ & kTimerMode) == kTimerTscDeadline; }

void LocalApic::set_tsc_deadline(std::optional<uint64_t> deadline, uint64_t now) {
  if (!tsc_deadline_mode()) return;
  advance(now);
  deadline_ = deadline;
}

std::optional<uint64_t> LocalApic::tsc_deadline() const {
  return tsc_deadline_mode() ? deadline_ : std::nullopt;
}

}  // namespace densevm
