// Vm: one guest — its RAM, MMU, vCPU and devices — run in slices of virtual time.
//
// Virtual time is retired instructions plus time skipped while the vCPU halts; the local
// APIC timer, the TSC and the CMOS clock run on it, so a guest's behaviour never depends on
// the host. Devices (platform_layout.h): a 16550 console at COM1 (IRQ 4), the exit port at
// 0xf4 (QEMU's isa-debug-exit address), the marker port, the local APIC at 0xfee00000, an
// IOAPIC at 0xfec00000, the CMOS RTC at 0x70, the ACPI sleep and reset registers and the
// virtio-mmio balloon (IRQ 5, level). Port I/O and MMIO to nothing read as all ones.
// A Linux guest (LinuxGuest) boots on Linux's 64-bit boot protocol with the ACPI tables
// describing all this; its poweroff ends the VM with status 0, its reboot (or a panic,
// with the "reboot=acpi panic=-1" the VM puts first on its command line) stops it with a
// failure.
//
//   Vm vm(frames, kernel, {.id = 0, .mem_bytes = 256 << 20, .cmdline = "workload=hello"}, sink);
//   while (vm.run_slice(1'000'000)) {}
//   int status = vm.exit_status();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balloon/balloon_device.h"
#include "core/page_tracking.h"
#include "mmu/guest_memory.h"
#include "mmu/hybrid_mmu.h"
#include "virtio/virtio_mmio.h"
#include "vmm/cpu/vcpu.h"
#include "vmm/device_bus.h"
#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/io_apic.h"
#include "vmm/devices/local_apic.h"
#include "vmm/devices/uart16550.h"
#include "vmm/elf_loader.h"
#include "vmm/guest_image.h"
#include "vmm/platform_layout.h"
#include "vmm/vm_state.h"

namespace densevm {

// How the vCPU runs guest code: interpreted, or hot blocks translated to host code
// (vmm/cpu/jit); the guest sees no difference. A host choice: snapshots do not record it.
struct CpuConfig {
  bool translate = false;
  cpu::jit::Config jit = {};
};

struct VmConfig {
  int id = 0;
  uint64_t mem_bytes = uint64_t{256} << 20;
  std::string cmdline;
  PagingMode paging = PagingMode::kAuto;
  // Audit the shadow tables against a fresh 2D walk after every slice; a difference stops
  // the VM with the checker's first finding (tests, debugging).
  bool check_mmu = false;
  CpuConfig cpu = {};
  // NUMA (numa/placement.h): the home node, an index into the host topology (none with
  // --numa off or interleave), and the FrameStore pool every new frame of the VM comes from.
  std::optional<uint32_t> numa_home{};
  uint32_t frame_pool = 0;
  // Guest pages on 2 MiB host pages (GuestMemory's huge_frames): a host choice, not recorded
  // in snapshots, invisible to the guest.
  bool huge_frames = false;
  std::optional<int> numa_node{};        // numa_home's kernel node number (what snapshots record)
  std::optional<int> saved_numa_node{};  // restored: the node its snapshot says it was on
};

struct VmStats {
  uint64_t instructions = 0;
  uint64_t virtual_time = 0;
  uint64_t tlb_misses = 0;
  uint64_t walk_refs = 0;
  uint64_t walks = 0;
  uint64_t invlpg = 0;
  uint64_t cr3_loads = 0;
  uint64_t guest_page_faults = 0;
  uint64_t exceptions = 0;
  uint64_t interrupts = 0;
  uint64_t timer_ticks = 0;
  uint64_t decodes = 0;
  uint64_t code_invalidations = 0;
  cpu::jit::Stats translation;                  // zero unless translating
  uint64_t unimplemented_ud = 0;                // #UD for instructions the vCPU lacks
  std::vector<std::string> unimplemented_first;  // their first distinct mnemonics
  uint64_t demand_faults = 0;
  // Shadow paging (zero in pure ept mode).
  uint64_t sync_faults = 0;
  uint64_t emulated_pt_writes = 0;
  uint64_t unsync_resyncs = 0;
  uint64_t mode_switches = 0;
  uint64_t shadow_hits = 0;
  uint64_t shadow_root_hits = 0;
  uint64_t shadow_retirements = 0;       // all shadow tables retired at once (checkpoints)
  uint64_t shadow_tables_reclaimed = 0;  // retired tables freed since by fills
  uint64_t mmu_checks = 0;
  uint64_t cow_breaks = 0;
  uint64_t resident_pages = 0;
  // The VMM's own memory for this VM, in bytes (the planner's overhead model is fitted to
  // these, planner/README.md). The P2M's and shadow tables are FrameStore frames, so
  // host.frames_resident counts them; the decode cache, soft TLB and translations are heap.
  uint64_t p2m_table_bytes = 0;
  uint64_t shadow_table_bytes = 0;
  uint64_t decode_cache_bytes = 0;
  uint64_t decode_cache_flushes = 0;  // the decode cache's bound passed (vcpu/decode_cache.h)
  uint64_t soft_tlb_bytes = 0;
};

class Vm final : public DeviceBus, public P2mListener, public cpu::MsrDevice {
 public:
  static constexpr uint16_t kExitPort = 0xf4;
  // A write here is a marker from the guest (`SYS_MARK`): counted, and the slice ends right
  // after it, so a checkpoint can be taken exactly there (`--checkpoint-at marker`).
  static constexpr uint16_t kMarkerPort = 0xf6;
  // virtio-balloon on virtio-mmio, announced on the guest command line (Firecracker style).
  static constexpr uint64_t kBalloonBase = kVirtioMmioBase;
  static constexpr uint32_t kBalloonIrq = kVirtioMmioIrq;
  using ConsoleSink = std::function<void(int vm_id, std::string_view line)>;

  enum class State : uint8_t { kRunning, kExited, kFailed };

  // Throws std::runtime_error (one line) if the guest cannot boot with this config.
  Vm(FrameStore& frames, const ElfImage& kernel, const VmConfig& config, ConsoleSink sink);
  // A Linux guest: kernel and initrd loaded, ACPI tables written, the vCPU at startup_64.
  Vm(FrameStore& frames, const LinuxGuest& guest, const VmConfig& config, ConsoleSink sink);
  // An unbooted machine (empty RAM, reset vCPU) for restore() to fill from a snapshot.
  Vm(FrameStore& frames, const VmConfig& config, ConsoleSink sink);
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  // Runs about `budget` units of virtual time; false once the VM has exited or failed.
  bool run_slice(uint64_t budget);

  [[nodiscard]] State state() const { return state_; }
  // Stops the VM from outside (the scheduler, when a slice threw): it is failed for good.
  void abort(std::string why) { fail(std::move(why)); }
  [[nodiscard]] int id() const { return config_.id; }
  [[nodiscard]] int exit_status() const { return exit_status_; }
  [[nodiscard]] const std::string& failure() const { return failure_; }
  [[nodiscard]] const VmConfig& config() const { return config_; }
  [[nodiscard]] const char* mmu_mode() const { return mmu_.mode_name(); }
  [[nodiscard]] VmStats stats() const;
  // This VM goes on from `earlier`, frozen at a checkpoint and restored into this one: the
  // MMU's and memory's counters (walks, shadow upkeep, demand faults, copy-on-write
  // breaks...) continue from earlier's instead of starting at zero. The vCPU's come with
  // restore().
  void continue_counters_from(const Vm& earlier) { counters_before_ = earlier.stats(); }
  // A clone of `frozen` (a template's VM, which `keep` holds) runs the frozen VM's
  // translated code for the pages it still shares with it (vmm/cpu/jit/DESIGN.md).
  void share_translations_of(const Vm& frozen, std::shared_ptr<const void> keep) {
    vcpu_.share_translations(frozen.vcpu_, std::move(keep));
  }
  // The host CPUs its slices ran on (noted by the scheduler's workers after each slice; a VM
  // runs on one worker at a time), ascending.
  void note_cpu(int cpu);
  [[nodiscard]] const std::vector<int>& cpus_seen() const { return cpus_seen_; }
  // Marker port writes so far (kMarkerPort).
  [[nodiscard]] uint64_t markers() const { return markers_; }
  [[nodiscard]] uint64_t virtual_time() const { return vcpu_.counters().retired + idle_skipped_; }

  // DeviceBus
  uint32_t port_read(uint16_t port, unsigned size) override;
  void port_write(uint16_t port, unsigned size, uint32_t value) override;
  uint64_t mmio_read(Gpa gpa, unsigned size) override;
  void mmio_write(Gpa gpa, unsigned size, uint64_t value) override;
  // P2mListener: any change to a mapped entry drops the vCPU's cached translations; a new
  // frame (or none) behind a page also drops the instructions decoded from it.
  void on_p2m_change(Gpa begin, Gpa end, P2mChange change) override;
  // cpu::MsrDevice: IA32_TSC_DEADLINE, in TSC units, for the local APIC's deadline timer.
  bool read_msr(uint32_t msr, uint64_t& value) override;
  bool write_msr(uint32_t msr, uint64_t value) override;

  // The VM generation id (kBootGenerationId): set at boot from the command line and VM id,
  // and by a restore or clone to a new value, so the guest can tell copies apart (VMGenID).
  struct GenerationId {
    uint64_t lo = 0, hi = 0;
    friend bool operator==(const GenerationId&, const GenerationId&) = default;
  };
  [[nodiscard]] GenerationId generation_id();
  // False if guest RAM has no frame for it (host out of memory).
  [[nodiscard]] bool set_generation_id(GenerationId id);
  // The P2M tables set_generation_id writes through, built ahead (a blank VM before a
  // checkpoint's pause fills it); false if the host is out of frames.
  [[nodiscard]] bool prepare_generation_id();

  [[nodiscard]] GuestMemory& memory() { return memory_; }
  [[nodiscard]] BalloonDevice& balloon() { return balloon_; }
  [[nodiscard]] const BalloonDevice& balloon() const { return balloon_; }
  [[nodiscard]] const VirtioMmio& balloon_transport() const { return balloon_mmio_; }

  // Checkpoint contract (vmm/vm_state.h): run state and every device; guest RAM is the
  // snapshot's or the checkpoint's business (memory()). Call between slices only. restore
  // throws StateError and then leaves the VM unfit to run. `memory` says what it may assume of
  // guest RAM: kReported when every page that differs from before was changed through the P2M
  // since (a checkpoint rollback), so decoded instructions stay cached.
  [[nodiscard]] VmState save() const;
  void restore(const VmState& s, cpu::RestoredMemory memory = cpu::RestoredMemory::kReplaced);

 private:
  void fail(std::string why);
  // The balloon's level-triggered line follows its InterruptStatus.
  void update_balloon_line();

  VmConfig config_;
  GuestMemory memory_;
  PageTracking tracking_;
  HybridMmu mmu_;  // after memory_ and tracking_: it leaves the P2M listeners first
  BalloonDevice balloon_;
  VirtioMmio balloon_mmio_;
  Uart16550 uart_;
  LocalApic apic_;
  IoApic ioapic_{apic_};
  CmosRtc rtc_;
  cpu::Vcpu vcpu_;
  std::atomic<State> state_{State::kRunning};  // read by the progress display
  int exit_status_ = 0;
  std::string failure_;
  uint64_t idle_skipped_ = 0;
  uint64_t mmu_checks_ = 0;
  std::optional<VmStats> counters_before_;  // continue_counters_from
  uint64_t markers_ = 0;
  std::vector<int> cpus_seen_;
  bool in_slice_ = false;           // run_slice is executing guest code
  bool tlb_flush_pending_ = false;  // P2M changed between slices
  bool reset_requested_ = false;    // the exit the vCPU stops for is a reset, not a poweroff
  // A new generation id (restore, clone) not yet announced to the guest: the next slice
  // pulses the ACPI GED's line so Linux's vmgenid reads it (set only before a VM runs on).
  bool generation_id_changed_ = false;
};

}  // namespace densevm
