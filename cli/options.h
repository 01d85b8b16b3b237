// What the densevm command line asks for, as plain structs that command_line.cc fills: the
// guests of a run and its host services, a checkpoint to take, snapshots to restore, how the
// VMs are run, and a capacity plan. Nothing here parses or runs.
//
//   const CommandLine c = parse_command_line({"run", "--vms", "4"});
//   assert(c.run.vms == 4 && !c.checkpoint.requested());
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dedup/dedup_scope.h"
#include "dedup/scan_rate.h"
#include "mmu/mmu_policy.h"
#include "numa/placement.h"
#include "planner/fleet.h"
#include "planner/vmm_overhead.h"

namespace densevm::cli {

// --cpu: how guest code runs. kTranslate translates every block at its first execution
// (the translator's widest test); kAuto once a block has run 16 times (hot code only).
enum class CpuMode { kInterp, kTranslate, kAuto };

// --huge-frames: guest pages on 2 MiB host pages (VmConfig::huge_frames). kAuto: for the
// VMs that neither share pages (dedup, clones of a snapshot) nor balloon, where a huge page
// saves 511 first-touch faults and host TLB misses and costs no memory (README.md says why).
enum class HugeFrames { kOff, kOn, kAuto };

// How the VMs of any command are run (RunLoop) and reported.
struct LoopOptions {
  CpuMode cpu = CpuMode::kAuto;
  bool share_translations = true;         // clones run their template's translated code
  HugeFrames huge_frames = HugeFrames::kAuto;
  unsigned threads = 0;                   // 0: one per host core
  uint64_t slice = 2'000'000;             // instructions of virtual time per slice
  std::optional<std::string> stats_path;  // "-" for stdout
  NumaSetting numa;                       // --numa: where VMs live on a NUMA host
};

// Page sharing between the VMs of a run or of a restored fleet.
struct SharingOptions {
  bool dedup = false;  // content-hash page sharing; off until proven by use
  uint64_t dedup_rate = ScanRate::kDefaultPagesPerSecond;  // per VM per virtual second; 0: max
  DedupScope dedup_scope = DedupScope::kHost;
  unsigned groups = 1;  // VM K belongs to group K mod groups
  bool dedup_numa_local = false;  // --dedup-numa local: share frames only among VMs of one home node
};

// The host memory the guests may hold, met by the balloon policy (run and restore).
struct BudgetOptions {
  uint64_t host_bytes = 0;                                // --host-budget; 0: no budget
  std::vector<std::pair<int, uint64_t>> node_bytes;      // --host-budget-node N:SIZE: node N's VMs' budget

  [[nodiscard]] bool any() const { return host_bytes != 0 || !node_bytes.empty(); }
};

// `densevm run`: the guests and the run's host services.
struct RunOptions {
  static constexpr const char* kGuestCmdline = "workload=hello";  // the built-in guest's default
  static constexpr const char* kLinuxCmdline = "console=ttyS0";   // a Linux guest's: COM1 is its console
  std::optional<std::string> guest;  // ELF path; the built-in guest kernel when absent
  std::optional<std::string> kernel;  // a Linux guest instead: bzImage or vmlinux
  std::optional<std::string> initrd;  // its initramfs
  uint64_t mem_bytes = uint64_t{256} << 20;
  unsigned vms = 1;
  std::string cmdline = kGuestCmdline;  // kLinuxCmdline with --kernel, unless given
  PagingMode mmu = PagingMode::kAuto;
  bool check_mmu = false;  // --check-mmu: audit shadow tables after every slice
  SharingOptions sharing;
  std::vector<std::pair<unsigned, int>> vm_numa;  // --vm-numa K:N: VM K's home is node N
  std::optional<uint64_t> balloon_target_bytes;  // guest memory size each balloon leaves
  BudgetOptions budget;
  LoopOptions loop;
};

// --checkpoint-at and what happens there (run and restore).
struct CheckpointOptions {
  std::optional<uint64_t> at;  // retired instructions
  uint64_t at_marker = 0;      // or: after the guest's K-th marker (SYS_MARK), if not 0
  std::optional<std::string> save_path;
  bool compress = false;
  bool diff = false;  // restore only: save just what changed since the restored snapshot
  // run only: an in-memory rollback loop after the checkpoint, `rollback_every` instructions
  // a round, `rollbacks` rounds, then the run goes on to the end.
  std::optional<uint64_t> rollback_every;
  uint64_t rollbacks = 1;
  unsigned clones = 0;  // run only: K clones of the VM go on from the checkpoint, instead of it

  [[nodiscard]] bool requested() const { return at.has_value() || at_marker != 0; }
  // "1000000" or "marker 2", as messages name the point.
  [[nodiscard]] std::string point() const {
    return at_marker != 0 ? "marker " + std::to_string(at_marker) : std::to_string(at.value_or(0));
  }
};

// `densevm restore FILE...`: one file (its clones, a checkpoint from it), or several files
// restored as one fleet (vm0, vm1, ... in the order given).
struct RestoreOptions {
  std::vector<std::string> files;
  std::optional<std::string> parent;  // where a diff's parent is, if not where it says
  unsigned clones = 1;
  bool lazy = false;
  SharingOptions sharing;  // among the restored VMs
  BudgetOptions budget;    // over the restored VMs
  LoopOptions loop;
  CheckpointOptions checkpoint;
};

// `densevm plan fingerprint|fit|place|report`: fingerprints of memory images, then a plan
// from the fingerprints (planner/).
struct PlanOptions {
  enum class Command : uint8_t { kFingerprint, kFit, kPlace, kReport } command = Command::kFit;
  std::vector<std::string> inputs;    // images (fingerprint) or fingerprint files
  std::string out_dir = ".";          // fingerprint -o DIR
  std::optional<std::string> output;  // report -o REPORT.html
  uint64_t host_bytes = 0;
  unsigned headroom_percent = 10;
  uint64_t hosts = 0;  // place (required), report (optional: then a placement too)
  DedupScope scope = DedupScope::kVm;  // what dedup_scoped assumes
  unsigned groups = 1;
  planner::FleetOptions fleet;
  planner::VmmOverhead vmm = planner::VmmOverhead::model();  // --vmm-overhead: auto
  planner::GuestCode guest_code = planner::GuestCode::kLinux;  // the model's code term
  uint64_t exact_max_vms = 16;
  std::vector<std::pair<std::string, std::string>> references;  // --reference LABEL=FILE
  bool json = false;
};

}  // namespace densevm::cli
