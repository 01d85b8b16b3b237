// `densevm plan`: the CLI glue over planner/ — fingerprint images, then fit, place and report
// from the fingerprints. Parsing throws UsageError (one line); running throws
// std::runtime_error for bad input (one line), before anything is left under an output name.
//
//   PlanOptions o = parse_plan_options({"fit", "--host-mem", "64G", "a.fp", "b.fp"});
//   return plan_command(o);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "planner/fit.h"
#include "planner/fleet.h"

namespace densevm {

struct PlanOptions {
  enum class Command { kFingerprint, kFit, kPlace, kReport } command = Command::kFit;
  std::vector<std::string> inputs;       // images (fingerprint) or fingerprint files
  std::string out_dir = ".";             // fingerprint -o DIR
  std::optional<std::string> output;     // report -o FILE.html
  uint64_t host_bytes = 0;
  unsigned headroom_percent = 10;
  size_t hosts = 0;                      // place (required), report (optional)
  DedupScope scope = DedupScope::kVm;
  unsigned groups = 1;
  planner::FleetOptions fleet;
  size_t exact_max_vms = 16;
  std::vector<std::pair<std::string, std::string>> references;  // --reference LABEL=FILE
  bool json = false;
};

[[nodiscard]] PlanOptions parse_plan_options(const std::vector<std::string>& args);
[[nodiscard]] int plan_command(const PlanOptions& o);
[[nodiscard]] const char* plan_usage();

}  // namespace densevm
