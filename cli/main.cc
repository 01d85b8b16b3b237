// densevm: the command-line entry point. The command line is defined in command_line.cc;
// every refusal is one line on stderr and exit status 2, every host error one line and 1.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cli/builtin_guest.h"
#include "cli/command_line.h"
#include "cli/commands.h"

namespace {

int run(const densevm::cli::CommandLine& c) {
  using Command = densevm::cli::CommandLine::Command;
  switch (c.command) {
    case Command::kHelp:
      std::fputs(c.text.c_str(), stdout);
      return 0;
    case Command::kUsage:
      std::fputs(c.text.c_str(), stderr);
      return 2;
    case Command::kRun:
      return densevm::cli::run_command(c.run, c.checkpoint, densevm::cli::builtin_guest_image());
    case Command::kRestore:
      return densevm::cli::restore_command(c.restore);
    case Command::kInspect:
      return densevm::cli::inspect_command(c.snapshot_file, c.snapshot_parent);
    case Command::kPlan:
      return densevm::cli::plan_command(c.plan);
  }
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(densevm::cli::parse_command_line(std::vector<std::string>(argv + 1, argv + argc)));
  } catch (const densevm::cli::UsageError& e) {
    std::fprintf(stderr, "densevm: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "densevm: %s\n", e.what());
    return 1;
  }
}
