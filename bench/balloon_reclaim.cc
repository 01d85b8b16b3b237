// Balloon reclaim end to end: the time to take 1 GiB back from a real guest, in host time and
// guest time. The guest (our kernel, workload=memfill) fills 1 GiB and frees it; once its
// statistics show the memory free, the host raises the balloon target by 1 GiB and the clock
// runs until the guest driver's `actual` reaches the target. Host time is steady_clock
// around the slices that do it (driver, transport, device, madvise), guest time is the VM's
// virtual time (10^9 units per virtual second), and RSS is VmRSS from /proc/self/status.
//
//   build/bench/balloon_reclaim [--size 1G] [--guest densevm-guest.elf]
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "cli/flags.h"
#include "cli/host_stats.h"
#include "cli/run_support.h"
#include "core/frame_store.h"
#include "vmm/elf_loader.h"
#include "vmm/vm.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kKeep = 64 * kMiB;      // the guest keeps this much: kernel, reserve, slack
constexpr uint64_t kSlice = 2'000'000;     // the CLI's default slice
constexpr uint64_t kMaxSlices = 1'000'000;  // a guest that never gets there fails the bench
constexpr double kVirtualPerSecond = 1e9;

struct Options {
  uint64_t size = uint64_t{1} << 30;
  std::string guest = DENSEVM_GUEST_ELF;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--size" && i + 1 < argc) {
      o.size = cli::parse_size("--size", argv[i + 1], {cli::kMiB, uint64_t{1} << 40});
    } else if (flag == "--guest" && i + 1 < argc) {
      o.guest = argv[i + 1];
    } else {
      throw std::runtime_error("usage: balloon_reclaim [--size SIZE] [--guest ELF]");
    }
  }
  return o;
}

// Runs slices until `done` holds; false if the VM stopped first or never got there.
template <typename Done>
bool run_until(Vm& vm, Done done) {
  for (uint64_t i = 0; i < kMaxSlices; ++i) {
    if (done()) return true;
    if (!vm.run_slice(kSlice)) return done();
  }
  return false;
}

int run(const Options& o) {
  const ElfImage kernel = load_elf_file(o.guest);
  const uint64_t ram = o.size + kKeep;
  FrameStore frames(cli::frame_store_capacity(ram));
  std::string console;
  bool filled = false;
  auto sink = [&](int, std::string_view line) {
    console.append(line).push_back('\n');
    filled = filled || line.starts_with("memfill ok ");
  };
  const std::string cmdline = "workload=memfill size=" + std::to_string(o.size / kMiB) +
                              "M free=1 linger=100 balloon_report=0";
  Vm vm(frames, kernel, {.id = 0, .mem_bytes = ram, .cmdline = cmdline}, sink);
  BalloonDevice& balloon = vm.balloon();

  // Fill, verify, free: then wait until the guest's statistics show the memory free, in a
  // report sent after the fill (the one the device holds from boot shows it free too).
  const auto boot = std::chrono::steady_clock::now();
  std::optional<uint64_t> reports_at_fill;
  const bool freed = run_until(vm, [&] {
    if (!filled) return false;
    if (!reports_at_fill) reports_at_fill = balloon.stats().stats_updates;
    balloon.request_stats();
    return balloon.stats().stats_updates > *reports_at_fill &&
           balloon.guest_report().free_bytes >= o.size;
  });
  if (!freed) {
    std::fprintf(stderr, "balloon_reclaim: the guest never freed its memory\n%s", console.c_str());
    return 1;
  }
  const double fill_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - boot).count();

  const uint64_t target = o.size >> kPageShift;
  const BalloonStats before = balloon.stats();
  const VmStats vm_before = vm.stats();
  const uint64_t rss_before = cli::host_rss_bytes();
  const auto start = std::chrono::steady_clock::now();
  balloon.set_target_pages(target);
  const bool reached = run_until(vm, [&] { return balloon.stats().actual_pages >= target; });
  const auto end = std::chrono::steady_clock::now();
  const uint64_t rss_after = cli::host_rss_bytes();
  const BalloonStats after = balloon.stats();
  const VmStats vm_after = vm.stats();
  if (!reached) {
    std::fprintf(stderr, "balloon_reclaim: actual stopped at %llu of %llu pages\n%s",
                 static_cast<unsigned long long>(after.actual_pages),
                 static_cast<unsigned long long>(target), console.c_str());
    return 1;
  }
  while (vm.run_slice(kSlice)) {}
  if (vm.state() != Vm::State::kExited || vm.exit_status() != 0) {
    std::fprintf(stderr, "balloon_reclaim: guest ended badly (%s)\n%s", vm.failure().c_str(),
                 console.c_str());
    return 1;
  }

  const double host_s = std::chrono::duration<double>(end - start).count();
  const double guest_s =
      static_cast<double>(vm_after.virtual_time - vm_before.virtual_time) / kVirtualPerSecond;
  const double freed_mib = static_cast<double>(after.discarded_pages - before.discarded_pages) *
                           static_cast<double>(kPageSize) / static_cast<double>(kMiB);
  const double gib = static_cast<double>(o.size) / static_cast<double>(kMiB << 10);
  const auto mib = [](uint64_t b) { return static_cast<double>(b) / static_cast<double>(kMiB); };
  std::printf(
      "%.0f MiB: host %.3f s (%.3f s/GiB, %.0f MiB/s), guest %.3f s (%.3f s/GiB, %.0f MiB/s, "
      "%llu instructions, %llu ticks), frames freed %.0f MiB, RSS %.0f -> %.0f MiB; "
      "boot+fill+free %.1f s\n",
      mib(o.size), host_s, host_s / gib, freed_mib / host_s, guest_s, guest_s / gib,
      freed_mib / guest_s,
      static_cast<unsigned long long>(vm_after.instructions - vm_before.instructions),
      static_cast<unsigned long long>(vm_after.timer_ticks - vm_before.timer_ticks), freed_mib,
      mib(rss_before), mib(rss_after), fill_s);
  return 0;
}

}  // namespace
}  // namespace densevm

int main(int argc, char** argv) {
  try {
    return densevm::run(densevm::parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "balloon_reclaim: %s\n", e.what());
    return 2;
  }
}
