#include "vmm/vm.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "mmu/shadow_checker.h"
#include "vmm/acpi/acpi_tables.h"
#include "vmm/boot.h"
#include "vmm/devices/acpi_power.h"
#include "vmm/linux/linux_boot.h"

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
  char vmm_args[96];
  std::snprintf(vmm_args, sizeof vmm_args, " virtio_mmio.device=%llu@0x%llx:%u vmgenid=0x%llx",
                static_cast<unsigned long long>(VirtioMmio::kWindowSize),
                static_cast<unsigned long long>(kBalloonBase), kBalloonIrq,
                static_cast<unsigned long long>(kBootGenerationId));
  setup_direct_boot(memory_, kernel, config.cmdline + vmm_args, vcpu_.state());
  // A fixed function of what the VM was booted with, so runs repeat exactly; never zero.
  const XXH128_hash_t h = XXH3_128bits_withSeed(config.cmdline.data(), config.cmdline.size(),
                                                static_cast<uint64_t>(config.id));
  if (!set_generation_id({h.low64 | 1, h.high64})) {
    throw std::runtime_error("guest RAM too small for the boot structures");
  }
}

Vm::Vm(FrameStore& frames, const LinuxGuest& guest, const VmConfig& config, ConsoleSink sink)
    : Vm(frames, config, std::move(sink)) {
  const std::vector<uint8_t> acpi = acpi::build_acpi_tables(kAcpiTablesBase);
  if (acpi.size() > kAcpiTablesSize || !memory_.write(Gpa{kAcpiTablesBase}, acpi.data(), acpi.size())) {
    throw std::runtime_error("guest RAM too small for the ACPI tables");
  }
  // panic=-1: a panic reboots at once, which ends the VM instead of spinning forever.
  // reboot=acpi: Linux 6.1 reboots a hardware-reduced ACPI machine through EFI, then the
  // BIOS (real mode); there is neither, so it is told to use the FADT's reset register.
  // Either is overridden by the same parameter later on the command line.
  const XXH128_hash_t h = XXH3_128bits_withSeed(config.cmdline.data(), config.cmdline.size(),
                                                static_cast<uint64_t>(config.id));
  // The RNG seed too: a fixed function of the command line and VM id, so runs repeat exactly.
  // densevm gives a guest no entropy of its own (its clock is virtual time): without a seed
  // Linux would make one from the jitter of that clock, just as predictable, after spinning
  // a second; clones tell themselves apart by their generation ids.
  const XXH128_hash_t s0 = XXH3_128bits_withSeed(config.cmdline.data(), config.cmdline.size(), h.low64);
  const XXH128_hash_t s1 = XXH3_128bits_withSeed(config.cmdline.data(), config.cmdline.size(), h.high64);
  const uint64_t seed_words[4] = {s0.low64, s0.high64, s1.low64, s1.high64};
  uint8_t seed[sizeof seed_words] = {};
  std::memcpy(seed, seed_words, sizeof seed);
  setup_linux_boot(memory_, guest.kernel, guest.initrd, "reboot=acpi panic=-1 " + config.cmdline,
                   kAcpiTablesBase, vcpu_.state(), seed);
  if (!set_generation_id({h.low64 | 1, h.high64})) {
    throw std::runtime_error("guest RAM too small for the boot structures");
  }
}

void Vm::note_cpu(int cpu) {
  const auto at = std::lower_bound(cpus_seen_.begin(), cpus_seen_.end(), cpu);
  if (at == cpus_seen_.end() || *at != cpu) cpus_seen_.insert(at, cpu);
}

Vm::GenerationId Vm::generation_id() {
  GenerationId id;
  uint64_t words[2] = {};
  if (memory_.read(Gpa{kBootGenerationId}, words, sizeof words)) id = {words[0], words[1]};
  return id;
}

bool Vm::set_generation_id(GenerationId id) {
  const uint64_t words[2] = {id.lo, id.hi};
  generation_id_changed_ = true;
  return memory_.write(Gpa{kBootGenerationId}, words, sizeof words);
}

bool Vm::prepare_generation_id() { return memory_.prepare_tables(Gpa{kBootGenerationId}.page_base()); }

Vm::Vm(FrameStore& frames, const VmConfig& config, ConsoleSink sink)
    : config_(config),
      memory_(frames, config.mem_bytes, config.frame_pool, config.huge_frames),
      tracking_(tracking_pages(memory_)),
      mmu_(memory_, tracking_, config.paging),
      balloon_(memory_),
      balloon_mmio_(memory_, balloon_),
      uart_([sink = std::move(sink), id = config.id](std::string_view line) { sink(id, line); }),
      vcpu_(mmu_, *this, tracking_, &mmu_) {
  if (config.cpu.translate) {
    std::string error;
    if (!vcpu_.enable_translation(config.cpu.jit, &error)) {
      throw std::runtime_error("cannot translate guest code: " + error);
    }
  }
  vcpu_.set_interrupt_source(&apic_);
  vcpu_.set_msr_device(this);
  apic_.set_eoi_listener(&ioapic_);
  uart_.set_irq_sink([this](bool asserted) {
    ioapic_.set_line(kCom1Irq, asserted);
    vcpu_.recheck_events();
  });
  mmu_.set_tlb_flush([this] {
    if (in_slice_) {
      vcpu_.flush_tlb();
    } else {
      tlb_flush_pending_ = true;  // no guest code running: one flush before it runs again
    }
  });
  memory_.add_listener(this);
}

void Vm::on_p2m_change(Gpa begin, Gpa end, P2mChange change) {
  // Decoded instructions are cached by guest-physical page: other bytes behind the page (a
  // ballooned page come back zeroed, a rollback's old frame) must be decoded again.
  if (change == P2mChange::kFrame) {
    for (Gpa page = begin; page < end; page += kPageSize) vcpu_.invalidate_code(page);
  }
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

void Vm::update_balloon_line() {
  ioapic_.set_line(kBalloonIrq, balloon_mmio_.interrupt_status() != 0);
  vcpu_.recheck_events();
}

bool Vm::read_msr(uint32_t msr, uint64_t& value) {
  if (msr != cpu::kMsrTscDeadline) return false;
  // TSC = virtual time + (tsc_offset - idle_skipped): the guest's own TSC writes.
  const int64_t tsc_minus_vt = vcpu_.state().tsc_offset - static_cast<int64_t>(idle_skipped_);
  const std::optional<uint64_t> at = apic_.tsc_deadline();
  value = at ? *at + static_cast<uint64_t>(tsc_minus_vt) : 0;  // 0: disarmed or fired
  return true;
}

bool Vm::write_msr(uint32_t msr, uint64_t value) {
  if (msr != cpu::kMsrTscDeadline) return false;
  const int64_t tsc_minus_vt = vcpu_.state().tsc_offset - static_cast<int64_t>(idle_skipped_);
  std::optional<uint64_t> at;
  if (value != 0) {
    const int64_t vt = static_cast<int64_t>(value) - tsc_minus_vt;
    at = vt > 0 ? static_cast<uint64_t>(vt) : 0;  // already due: fires at once
  }
  apic_.set_tsc_deadline(at, virtual_time());
  vcpu_.request_yield();  // the run loop bounds its steps by the new deadline
  return true;
}

bool Vm::run_slice(uint64_t budget) {
  if (tlb_flush_pending_) {
    vcpu_.flush_tlb();
    tlb_flush_pending_ = false;
  }
  update_balloon_line();  // host services may have changed the balloon's config between slices
  if (std::exchange(generation_id_changed_, false)) {
    ioapic_.set_line(kAcpiGedIrq, true);  // an edge: the GED runs _EVT, Notify(VGEN)
    ioapic_.set_line(kAcpiGedIrq, false);
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
      case cpu::StopReason::kPaused:
        remaining = 0;  // the slice ends at the marker
        break;
      case cpu::StopReason::kExit:
        if (reset_requested_) {
          fail("the guest reset the machine (ACPI reset register): a reboot, or a panic");
          break;
        }
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
  if (CmosRtc::handles(port)) return rtc_.read(port, virtual_time());
  if (AcpiPower::handles(port)) return AcpiPower::read(port);
  return static_cast<uint32_t>(all_ones(size));
}

void Vm::port_write(uint16_t port, unsigned, uint32_t value) {
  if (uart_.handles(port)) {
    uart_.write(port, static_cast<uint8_t>(value));
  } else if (port == kExitPort) {
    exit_status_ = static_cast<int>(value & 0xff);
    vcpu_.request_exit();
  } else if (port == kMarkerPort) {
    ++markers_;
    vcpu_.request_pause();
  } else if (CmosRtc::handles(port)) {
    rtc_.write(port, static_cast<uint8_t>(value), virtual_time());
  } else if (AcpiPower::handles(port)) {
    switch (AcpiPower::write(port, static_cast<uint8_t>(value))) {
      case AcpiPower::Event::kPowerOff:
        exit_status_ = 0;
        vcpu_.request_exit();
        break;
      case AcpiPower::Event::kReset:
        reset_requested_ = true;
        vcpu_.request_exit();
        break;
      case AcpiPower::Event::kNone:
        break;
    }
  }
}

uint64_t Vm::mmio_read(Gpa gpa, unsigned size) {
  if (gpa.value() - LocalApic::kBase < LocalApic::kSize) {
    return apic_.read(gpa.value() - LocalApic::kBase, virtual_time());
  }
  if (gpa.value() - kIoApicBase < kIoApicSize) return ioapic_.read(gpa.value() - kIoApicBase, size);
  if (gpa.value() - kBalloonBase < VirtioMmio::kWindowSize) {
    return balloon_mmio_.read(gpa.value() - kBalloonBase, size);
  }
  return all_ones(size);
}

void Vm::mmio_write(Gpa gpa, unsigned size, uint64_t value) {
  if (gpa.value() - LocalApic::kBase < LocalApic::kSize) {
    apic_.write(gpa.value() - LocalApic::kBase, static_cast<uint32_t>(value), virtual_time());
    vcpu_.request_yield();  // the timer may be armed anew, an EOI may let another vector in
  } else if (gpa.value() - kIoApicBase < kIoApicSize) {
    ioapic_.write(gpa.value() - kIoApicBase, size, static_cast<uint32_t>(value));
    vcpu_.recheck_events();
  } else if (gpa.value() - kBalloonBase < VirtioMmio::kWindowSize) {
    // A notify may unmap thousands of pages: no guest code runs meanwhile, so the soft TLB
    // is flushed once afterwards instead of once per page.
    const bool in_slice = std::exchange(in_slice_, false);
    balloon_mmio_.write(gpa.value() - kBalloonBase, size, value);
    in_slice_ = in_slice;
    if (in_slice_ && std::exchange(tlb_flush_pending_, false)) vcpu_.flush_tlb();
    update_balloon_line();
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
  s.shadow_retirements = sh.retirements;
  s.shadow_tables_reclaimed = sh.tables_reclaimed;
  s.mmu_checks = mmu_checks_;
  s.invlpg = c.invlpg;
  s.cr3_loads = c.cr3_loads;
  s.exceptions = c.exceptions;
  s.interrupts = c.interrupts;
  s.timer_ticks = apic_.timer_expiries();
  s.decodes = c.decodes;
  s.code_invalidations = c.code_invalidations;
  s.translation = vcpu_.translation_stats();
  s.unimplemented_ud = c.unimplemented_ud;
  s.unimplemented_first = vcpu_.unimplemented_first();
  s.demand_faults = h.demand_faults;
  s.cow_breaks = memory_.cow_breaks();
  s.resident_pages = memory_.resident_pages();
  s.p2m_table_bytes = memory_.ept_stats().table_frames * kPageSize;
  s.shadow_table_bytes = mmu_.shadow().tables().live() * kPageSize;
  s.decode_cache_bytes = vcpu_.decode_cache_bytes();
  s.decode_cache_flushes = vcpu_.decode_cache_flushes();
  s.soft_tlb_bytes = cpu::Vcpu::soft_tlb_bytes();
  if (const std::optional<VmStats>& b = counters_before_) {
    // The vCPU's own counters (instructions, soft-TLB misses, decodes...) are in its record.
    for (auto field : {&VmStats::walk_refs, &VmStats::walks, &VmStats::guest_page_faults, &VmStats::sync_faults,
                       &VmStats::emulated_pt_writes, &VmStats::unsync_resyncs, &VmStats::mode_switches,
                       &VmStats::shadow_hits, &VmStats::shadow_root_hits, &VmStats::shadow_retirements,
                       &VmStats::shadow_tables_reclaimed, &VmStats::mmu_checks, &VmStats::demand_faults,
                       &VmStats::cow_breaks}) {
      s.*field += (*b).*field;
    }
  }
  return s;
}

}  // namespace densevm
