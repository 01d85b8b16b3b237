#include "vmm/cli/run_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "vmm/cli/host_stats.h"
#include "vmm/cli/run_services.h"
#include "vmm/cli/run_support.h"
#include "vmm/cli/stats_json.h"
#include "vmm/frame_store.h"
#include "vmm/scheduler.h"
#include "vmm/vm.h"

namespace densevm {
int run_command(const RunOptions& o, std::span<const uint8_t> builtin_guest) {
  const GuestImage image = load_guest_image(o, builtin_guest);
  FrameStore frames(frame_store_capacity(o.mem_bytes * o.vms));
  ConsoleLines console(o.vms > 1);
  auto sink = [&console](int vm, std::string_view line) { console.line(vm, line); };

  std::vector<std::unique_ptr<Vm>> vms = boot_vms(o, frames, image, sink);

  // Balloon targets and page sharing, between epochs. Declared after the VMs so it goes
  // first: it drops only its own frame references.
  RunServices services(o, frames);
  std::vector<Vm*> run_list;
  for (auto& vm : vms) run_list.push_back(vm.get());
  services.attach(run_list);

  const unsigned threads = worker_threads(o.threads);
  const auto start = std::chrono::steady_clock::now();
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  bool shown = false;
  Scheduler(run_list, threads, o.slice).run([&](size_t finished) {
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!tty || secs < 2.0) return;
    std::fprintf(stderr, "\r\033[K[densevm] %zu/%u VMs running, %.0f s, host RSS %llu MiB",
                 o.vms - finished, o.vms, secs,
                 static_cast<unsigned long long>(host_rss_bytes() >> 20));
    shown = true;
  }, [&services] { services.step(); });
  if (shown) std::fprintf(stderr, "\r\033[K");
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<const Vm*> view(run_list.begin(), run_list.end());
  const int status = report_endings(view);
  if (o.stats_path) {
    nlohmann::ordered_json doc = stats_document(view, frames, wall, threads);
    const std::optional<DedupStats> dedup_stats = services.dedup_stats();
    add_dedup_stats(doc, dedup_stats ? &*dedup_stats : nullptr);
    write_stats(doc, *o.stats_path);
  }
  return status;
}

}  // namespace densevm
