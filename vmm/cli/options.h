// Command-line options of `densevm run`, parsed into a plain struct.
//
// Parsing never exits or prints: a bad flag or value throws UsageError with the one line
// the CLI shows, so the parser is testable.
//
//   RunOptions o = parse_run_options({"--vms", "4", "--mem", "256M"});
//   assert(o.vms == 4 && o.mem_bytes == 256ull << 20);
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "shadow-pt/mmu_policy.h"

#include "dedup/dedup_scope.h"
#include "dedup/scan_rate.h"

namespace densevm {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct RunOptions {
  std::optional<std::string> guest;  // ELF path; the built-in guest kernel when absent
  uint64_t mem_bytes = uint64_t{256} << 20;
  unsigned vms = 1;
  std::string cmdline = "workload=hello";
  PagingMode mmu = PagingMode::kAuto;
  bool check_mmu = false;  // --check-mmu: audit shadow tables after every slice
  bool translate = false;  // --cpu translate|auto
  std::optional<std::string> stats_path;  // "-" for stdout
  unsigned threads = 0;                   // 0: one per host core
  uint64_t slice = 2'000'000;             // instructions of virtual time per slice
  bool dedup = false;                     // content-hash page sharing; off until proven by use
  uint64_t dedup_rate = ScanRate::kDefaultPagesPerSecond;  // per VM per virtual second; 0: max
  DedupScope dedup_scope = DedupScope::kHost;
  unsigned groups = 1;                    // VM K belongs to group K mod groups
  std::optional<uint64_t> balloon_target_bytes;  // guest memory size each balloon leaves
  uint64_t host_budget_bytes = 0;                // 0: no budget; else the balloon policy runs
  // ---- a Linux guest (issue 14): --kernel FILE [--initrd FILE]; --cmdline is then the
  // kernel's command line. Kept apart for the CLI rewrite to carry over.
  std::optional<std::string> kernel;  // bzImage or vmlinux
  std::optional<std::string> initrd;
};

// Parses "64M", "1G", "512K", "4096" (bytes); suffixes are binary (KiB, MiB, GiB, TiB).
[[nodiscard]] uint64_t parse_size(const std::string& text);

[[nodiscard]] RunOptions parse_run_options(const std::vector<std::string>& args);
// Whether `run` reads the argument after `flag` as its value (so a command that takes its
// own flags out of `run`'s arguments first never mistakes such a value for a flag).
[[nodiscard]] bool run_flag_takes_value(std::string_view flag);

[[nodiscard]] const char* run_usage();

}  // namespace densevm
