// The host's minor page faults taken by the calling thread so far: what a latency window
// (a checkpoint's pause, a restore to the first instruction) paid in first touches of fresh
// host memory. The count, not the time, is what carries from host to host: a fault costs
// under a microsecond on bare metal and 17-20 us on some cloud VMs (bench/fault_cost).
// Host-dependent (transparent huge pages, the allocator's reuse), so it goes in stats and
// benchmarks, never in a test's expected output.
//
//   const FaultWindow pause;            // the window starts
//   ... freeze, fill the VMs going on ...
//   stats["pause_faults"] = pause.faults();
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace densevm {

// The calling thread's minor faults (getrusage RUSAGE_THREAD); 0 if the kernel refuses.
[[nodiscard]] inline uint64_t thread_minor_faults() {
  rusage u{};
  if (getrusage(RUSAGE_THREAD, &u) != 0) return 0;
  return static_cast<uint64_t>(u.ru_minflt);
}

// Minor faults of this thread since the window was made.
class FaultWindow {
 public:
  FaultWindow() : start_(thread_minor_faults()) {}
  [[nodiscard]] uint64_t faults() const { return thread_minor_faults() - start_; }

 private:
  uint64_t start_;
};

}  // namespace densevm
