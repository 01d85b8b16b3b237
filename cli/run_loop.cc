#include "cli/run_loop.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>

#include "cli/host_stats.h"
#include "cli/run_support.h"
#include "vmm/scheduler.h"

namespace densevm::cli {
namespace {

constexpr double kProgressAfterSeconds = 2.0;

}  // namespace

std::vector<Vm*> list_of(const std::vector<std::unique_ptr<Vm>>& vms) {
  std::vector<Vm*> list;
  for (const auto& vm : vms) list.push_back(vm.get());
  return list;
}

RunLoop::RunLoop(const LoopOptions& options, Topology host)
    : threads_(options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency())),
      slice_(options.slice),
      numa_(std::move(host), options.numa),
      start_(Clock::now()),
      terminal_(::isatty(STDERR_FILENO) == 1) {}

std::unique_ptr<FrameStore> RunLoop::make_frames(uint64_t capacity_bytes) const {
  auto frames = std::make_unique<FrameStore>(numa_.pool_specs(capacity_bytes));
  if (!numa_.bind(*frames)) {
    // The kernel refused the policy (no NUMA support in it): frames land where it pleases.
    std::fprintf(stderr, "densevm: mbind refused; --numa %s places nothing\n", numa_.setting().name().c_str());
  }
  return frames;
}

void RunLoop::run(const std::vector<std::unique_ptr<Vm>>& vms, const Between& between, const Budget& budget) {
  Scheduler scheduler(list_of(vms), threads_, slice_);
  if (numa_.by_node()) {
    std::vector<std::vector<int>> cpus;
    for (const NumaNode& node : numa_.topology().nodes) cpus.push_back(node.cpus);
    scheduler.set_nodes(std::move(cpus));
  }
  if (budget) scheduler.set_budget(budget);
  bool shown = false;
  scheduler.run(
      [&](size_t finished) {
        const double secs = seconds();
        if (!terminal_ || secs < kProgressAfterSeconds) return;
        std::fprintf(stderr, "\r\033[K[densevm] %zu/%zu VMs running, %.0f s, host RSS %llu MiB", vms.size() - finished,
                     vms.size(), secs, static_cast<unsigned long long>(host_rss_bytes() >> 20));
        shown = true;
      },
      [&between] {
        if (between) between();
      });
  if (shown) std::fprintf(stderr, "\r\033[K");
}

bool RunLoop::run_to_checkpoint(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c,
                                const Between& between) {
  const uint64_t slice = slice_;
  run(vms, between, [&c, slice](const Vm& vm) -> uint64_t {
    if (c.at_marker) return vm.markers() >= c.at_marker ? 0 : slice;
    const uint64_t retired = vm.stats().instructions;
    return retired >= *c.at ? 0 : *c.at - retired;
  });
  for (const auto& vm : vms) {
    if (vm->state() == Vm::State::kRunning) continue;
    std::fprintf(stderr, "densevm: vm%d ended before --checkpoint-at %s; nothing saved\n", vm->id(), c.point().c_str());
    (void)report_endings(vms);
    return false;
  }
  return true;
}

}  // namespace densevm::cli
