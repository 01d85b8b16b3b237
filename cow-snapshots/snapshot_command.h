// The snapshot commands of the densevm CLI: `run ... --checkpoint-at N --save FILE`,
// `run ... --checkpoint-at N --clones K`, `restore FILE [--clones N] [--lazy|--eager]
// [--checkpoint-at N --save FILE [--diff]]` and `snapshot inspect FILE`. A checkpoint that
// goes on freezes the VM into a template (vm_template.h): the guest stands still only while
// the template and the VMs going on from it are made, and the file is written meanwhile.
//
//   CheckpointOptions c;
//   if (take_checkpoint_options(args, c, true)) return run_with_checkpoint(parse_run_options(args), c, guest);
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
  // run only: K clones of the VM go on from the checkpoint (vm0..vmK-1), instead of the VM.
  unsigned clones = 0;
};

// Removes --checkpoint-at, --save, --compress, --diff, --rollback-every, --rollbacks and,
// with_clones (run's), --clones from `args` (the rest is the command's own); true if any was
// there. Throws UsageError for a missing or bad value or a combination that means nothing.
[[nodiscard]] bool take_checkpoint_options(std::vector<std::string>& args, CheckpointOptions& out,
                                           bool with_clones = false);

// The run's VMs (--vms), each run to exactly `at` retired instructions (or its marker), with
// the run's services between epochs; then they go on, each saved in the background (--save)
// and/or rolled back in memory (--rollback-every), or K clones of the one VM run (--clones,
// saved in the background too with --save), to the end.
[[nodiscard]] int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                                      std::span<const uint8_t> builtin_guest);
[[nodiscard]] int restore_command(const std::vector<std::string>& args);
[[nodiscard]] int snapshot_command(const std::vector<std::string>& args);

}  // namespace densevm::snapshot
