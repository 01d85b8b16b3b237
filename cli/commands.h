// The densevm subcommands, each run from what parse_command_line made of its arguments.
// Each returns the process's exit status: 0 when every guest exited 0, else the first non-zero
// guest status (1 for a guest the VMM stopped), 1 for a save that failed. Bad input throws
// UsageError (exit 2) or std::runtime_error (exit 1), one line each, before anything runs.
//
//   const CommandLine c = parse_command_line(args);
//   return run_command(c.run, c.checkpoint, builtin_guest_image());
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "cli/options.h"

namespace densevm::cli {

// `densevm run`: boots the guests (the built-in guest kernel unless o.guest) and runs them to
// their end; with a checkpoint, runs them to it first, then they go on (saved in the
// background and/or rolled back in memory), or K clones of the one VM run, to the end.
[[nodiscard]] int run_command(const RunOptions& o, const CheckpointOptions& c, std::span<const uint8_t> builtin_guest);
// `densevm restore FILE...`: VMs from a snapshot chain, and a checkpoint taken from one; or
// several files as one fleet (vmK: the K-th file) with the run's page sharing among them.
[[nodiscard]] int restore_command(const RestoreOptions& o);
// `densevm snapshot inspect FILE [--parent P]`: checks the file and its chain as a restore
// does before the first instruction, and prints what the file holds.
[[nodiscard]] int inspect_command(const std::string& file, const std::optional<std::string>& parent);
// `densevm plan ...`: fingerprints of memory images, or a plan from fingerprints (planner/).
// Bad input is refused before anything is written under an output name.
[[nodiscard]] int plan_command(const PlanOptions& o);

}  // namespace densevm::cli
