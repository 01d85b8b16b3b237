#include "vmm/vm.h"

#include <cstdio>

#include "shadow-pt/shadow_checker.h"
#include "vmm/boot.h"

namespace densevm {
namespace {

uint64_t all_ones(unsigned size) { return size >= 8 ? ~uint64_t{0} : (uint64_t{1} << (size * 8)) - 1; }

uint64_t tracking_pages(const GuestMemory& m) {
  const auto& last = m.ram_ranges().back();
  return (last.begin.value() + last.size) >> kPageShift;
}

}  // namespace

Vm::Vm(FrameStore& frames, const ElfImage& kernel, const VmConfig& config, ConsoleSink sink)
    : Vm(frames, config, std::move(sink)) {
  char balloon_arg[64];
  std::snprintf(balloon_arg, sizeof balloon_arg, " virtio_mmio.device=%llu@0x%llx:%u",
                static_cast<unsigned long long>(VirtioMmio::kWindowSize),
                static_cast<unsigned long long>(kBalloonBase), kBalloonIrq);
  setup_direct_boot(memory_, kernel, config.cmdline + balloon_arg, vcpu_.state());
}

Vm::Vm(FrameStore& frames, const VmConfig& config, ConsoleSink sink)
    : config_(config),
      memory_(frames, config.mem_bytes),
      tracking_(tracking_pages(memory_)),
      mmu_(memory_, tracking_, config.paging),
      balloon_(memory_),
      balloon_mmio_(memory_, balloon_),
      uart_([sink = std::move(sink), id = config.id](std::string_view line) { sink(id, line); }),
      vcpu_(mmu_, *this, tracking_, &mmu_) {
  vcpu_.set_interrupt_source(&apic_);
  mmu_.set_tlb_flush([this] { vcpu_.flush_tlb(); });
  memory_.p2m().add_listener(this);
}

void Vm::on_p2m_change(Gpa begin, Gpa end) {
  // Inside a slice (a COW break, a device unmapping a page) the stale entries must go now;
  // between slices (services, rollback) one flush before the next slice covers every change.
  if (in_slice_) {
    vcpu_.flush_tlb_gpa(begin, end);
  } else {
    tlb_flush_pending_ = true;
  }
}

void Vm::fail(std::string why) {
  state_ = State::kFailed;
  failure_ = std::move(why);
  uart_.flush();
}

bool Vm::run_slice(uint64_t budget) {
  if (tlb_flush_pending_) {
    vcpu_.flush_tlb();
    tlb_flush_pending_ = false;
  }
  in_slice_ = true;
  struct SliceEnd {
    bool& flag;
    ~SliceEnd() { flag = false; }
  } slice_end{in_slice_};
  uint64_t remaining = budget;
  while (state() == State::kRunning && remaining > 0) {
    apic_.advance(virtual_time());
    uint64_t step = remaining;
    const std::optional<uint64_t> deadline = apic_.next_deadline();
    if (deadline && *deadline > virtual_time()) step = std::min(step, *deadline - virtual_time());
    const cpu::RunResult r = vcpu_.run(step);
    remaining -= std::min(remaining, r.retired);
    switch (r.reason) {
      case cpu::StopReason::kBudget:
        break;
      case cpu::StopReason::kHalted: {
        const std::optional<uint64_t> next = apic_.next_deadline();
        if (!next || !(vcpu_.rflags() & cpu::kFlagIf)) {
          char buf[96];
          std::snprintf(buf, sizeof buf, "halted with no interrupt to wake it at RIP 0x%llx",
                        static_cast<unsigned long long>(vcpu_.state().rip));
          fail(buf);
          break;
        }
        // Nothing runs until the timer fires: jump virtual time (and the TSC) forward.
        const uint64_t skip = *next > virtual_time() ? *next - virtual_time() : 0;
        idle_skipped_ += skip;
        vcpu_.state().tsc_offset += static_cast<int64_t>(skip);
        remaining -= std::min(remaining, skip);
        break;
      }
      case cpu::StopReason::kExit:
        state_ = State::kExited;
        uart_.flush();
        break;
      case cpu::StopReason::kStopped:
      case cpu::StopReason::kException:
        fail(vcpu_.stop_message());
        break;
    }
  }
  if (config_.check_mmu && state() == State::kRunning && mmu_.shadow_active()) {
    ++mmu_checks_;
    const std::vector<std::string> problems = check_shadow(mmu_.shadow());
    if (!problems.empty()) {
      fail("shadow checker: " + problems.front() + " (" + std::to_string(problems.size()) +
           " differences)");
    }
  }
  return state() == State::kRunning;
}

uint32_t Vm::port_read(uint16_t port, unsigned size) {
  if (uart_.handles(port)) return uart_.read(port);
  return static_cast<uint32_t>(all_ones(size));
}

void Vm::port_write(uint16_t port, unsigned, uint32_t value) {
  if (uart_.handles(port)) {
    uart_.write(port, static_cast<uint8_t>(value));
  } else if (port == kExitPort) {
    exit_status_ = static_cast<int>(value & 0xff);
    vcpu_.request_exit();
  }
}

uint64_t Vm::mmio_read(Gpa gpa, unsigned size) {
  if (gpa.value() - LocalApic::kBase < LocalApic::kSize) {
    return apic_.read(gpa.value() - LocalApic::kBase, virtual_time());
  }
  if (gpa.value() - kBalloonBase < VirtioMmio::kWindowSize) {
    return balloon_mmio_.read(gpa.value() - kBalloonBase, size);
  }
  return all_ones(size);
}

void Vm::mmio_write(Gpa gpa, unsigned size, uint64_t value) {
  if (gpa.value() - LocalApic::kBase < LocalApic::kSize) {
    apic_.write(gpa.value() - LocalApic::kBase, static_cast<uint32_t>(value), virtual_time());
  } else if (gpa.value() - kBalloonBase < VirtioMmio::kWindowSize) {
    balloon_mmio_.write(gpa.value() - kBalloonBase, size, value);
  }
}

VmStats Vm::stats() const {
  VmStats s;
  const cpu::VcpuCounters& c = vcpu_.counters();
  s.instructions = c.retired;
  s.virtual_time = virtual_time();
  s.tlb_misses = c.tlb_misses;
  const HybridStats h = mmu_.stats();
  const ShadowStats sh = mmu_.shadow_stats();
  s.walk_refs = h.walk_refs;
  s.walks = h.walks;
  s.guest_page_faults = h.guest_page_faults;
  s.sync_faults = sh.sync_faults;
  s.emulated_pt_writes = sh.emulated_pt_writes;
  s.unsync_resyncs = sh.unsync_resyncs;
  s.mode_switches = h.mode_switches;
  s.shadow_hits = sh.shadow_hits;
  s.shadow_root_hits = sh.root_hits;
  s.mmu_checks = mmu_checks_;
  s.invlpg = c.invlpg;
  s.cr3_loads = c.cr3_loads;
  s.exceptions = c.exceptions;
  s.interrupts = c.interrupts;
  s.timer_ticks = apic_.timer_expiries();
  s.decodes = c.decodes;
  s.code_invalidations = c.code_invalidations;
  s.demand_faults = h.demand_faults;
  s.cow_breaks = memory_.cow_breaks();
  s.resident_pages = memory_.resident_pages();
  return s;
}

}  // namespace densevm
