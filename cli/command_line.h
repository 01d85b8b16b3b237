// The densevm command line, defined once on CLI11: the subcommands `run`, `restore`,
// `snapshot inspect` and `plan fingerprint|fit|place|report`, every option with its range and the rules between options (what one
// needs, what excludes another), and the --help of each subcommand, generated from the very
// definitions that parse. Parsing runs nothing: it says what to run.
//
//   const CommandLine c = parse_command_line({"run", "--vms", "4", "--mem", "256M"});
//   if (c.command == CommandLine::Command::kRun) return run_command(c.run, c.checkpoint, guest);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/flags.h"
#include "cli/options.h"

namespace densevm::cli {

struct CommandLine {
  enum class Command : uint8_t {
    kHelp,     // --help: `text` goes to stdout, exit 0
    kUsage,    // no subcommand: `text` goes to stderr, exit 2
    kRun,      // run, checkpoint
    kRestore,  // restore
    kInspect,  // snapshot_file, snapshot_parent
    kPlan,     // plan
  };
  Command command = Command::kUsage;
  std::string text;
  RunOptions run;
  CheckpointOptions checkpoint;
  RestoreOptions restore;
  std::string snapshot_file;
  std::optional<std::string> snapshot_parent;  // inspect --parent: where a diff's parent is
  PlanOptions plan;
};

// args without the program name. Throws UsageError (one line) for anything it refuses.
[[nodiscard]] CommandLine parse_command_line(const std::vector<std::string>& args);

}  // namespace densevm::cli
