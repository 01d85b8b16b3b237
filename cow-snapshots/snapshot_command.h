// The snapshot commands of the densevm CLI: `run ... --checkpoint-at N --save FILE`,
// `restore FILE [--clones N] [--lazy|--eager] [--checkpoint-at N --save FILE [--diff]]` and
// `snapshot inspect FILE`.
//
//   CheckpointOptions c;
//   if (take_checkpoint_options(args, c)) return run_with_checkpoint(parse_run_options(args), c, guest);
//   return restore_command({"vm.snap", "--stats", "-"});
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vmm/cli/options.h"

namespace densevm::snapshot {

struct CheckpointOptions {
  std::optional<uint64_t> at;  // retired instructions
  uint64_t at_marker = 0;      // or: after the guest's K-th marker (SYS_MARK), if not 0
  std::optional<std::string> save_path;
  bool compress = false;
  bool diff = false;  // restore only: save just what changed since the restored snapshot
  // In-memory rollback loop: after the checkpoint, run `rollback_every` instructions and
  // roll back, `rollbacks` times, then run on to the end.
  std::optional<uint64_t> rollback_every;
  uint64_t rollbacks = 1;
};

// Removes --checkpoint-at, --save, --compress, --diff, --rollback-every and --rollbacks from `args`
// (the rest is `run`'s);
// true if any was there. Throws UsageError for a missing or bad value.
[[nodiscard]] bool take_checkpoint_options(std::vector<std::string>& args, CheckpointOptions& out);

// One VM, run in slices to exactly `at` retired instructions, saved (--save) and/or rolled
// back in memory (--rollback-every), then run to the end.
[[nodiscard]] int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                                      std::span<const uint8_t> builtin_guest);
[[nodiscard]] int restore_command(const std::vector<std::string>& args);
[[nodiscard]] int snapshot_command(const std::vector<std::string>& args);

}  // namespace densevm::snapshot
