// densevm: the command-line entry point.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_command.h"
#include "vmm/cli/builtin_guest.h"
#include "vmm/cli/options.h"
#include "vmm/cli/plan_command.h"
#include "vmm/cli/run_command.h"

namespace {

void usage(std::FILE* out) {
  std::fprintf(out,
               "densevm: a memory-density hypervisor\n"
               "usage: densevm run [options]   (densevm run --help for the options)\n"
               "       densevm run ... --checkpoint-at INSTRUCTIONS|marker[:K] --save FILE [--compress]\n"
               "       densevm run ... --checkpoint-at INSTRUCTIONS|marker[:K] --clones K [--save FILE]\n"
               "       densevm run ... --checkpoint-at INSTRUCTIONS|marker[:K] [--save FILE] --rollback-every M [--rollbacks K]\n"
               "       densevm restore FILE [--lazy|--eager] [--clones N] [--threads N] [--parent FILE]\n"
               "                       [--stats PATH|-] [--checkpoint-at ... --save NEW [--diff] [--compress]]\n"
               "       densevm snapshot inspect FILE\n"
               "       densevm plan fingerprint|fit|place|report ...   (densevm plan --help)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "run") {
      for (const std::string& a : args) {
        if (a == "--help" || a == "-h") {
          std::fputs(densevm::run_usage(), stdout);
          return 0;
        }
      }
      densevm::snapshot::CheckpointOptions checkpoint;
      if (densevm::snapshot::take_checkpoint_options(args, checkpoint, /*with_clones=*/true)) {
        return densevm::snapshot::run_with_checkpoint(densevm::parse_run_options(args), checkpoint,
                                                      densevm::builtin_guest_image());
      }
      return densevm::run_command(densevm::parse_run_options(args), densevm::builtin_guest_image());
    }
    if (command == "restore") return densevm::snapshot::restore_command(args);
    if (command == "snapshot") return densevm::snapshot::snapshot_command(args);
    if (command == "plan") {
      if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::fputs(densevm::plan_usage(), args.empty() ? stderr : stdout);
        return args.empty() ? 2 : 0;
      }
      return densevm::plan_command(densevm::parse_plan_options(args));
    }
    std::fprintf(stderr, "densevm: unknown command '%s' (try densevm --help)\n", command.c_str());
    return 2;
  } catch (const densevm::UsageError& e) {
    std::fprintf(stderr, "densevm: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "densevm: %s\n", e.what());
    return 1;
  }
}
