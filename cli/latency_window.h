// A latency window of the snapshot stats (a checkpoint's pause, clones filled, a restore to
// the first instruction): the host seconds it took and the minor faults the thread doing it
// took (core/host_faults.h), printed side by side as `<what>_seconds` and `<what>_faults`,
// so that a figure measured on a host where faults are cheap says what it would cost where
// they are not.
//
//   const LatencyWindow pause;
//   ... the pause ...
//   const Latency p = pause.read();  // p.seconds, p.faults
#pragma once

#include <cstdint>

#include "cli/run_loop.h"
#include "core/host_faults.h"

namespace densevm::cli {

struct Latency {
  double seconds = 0;
  uint64_t faults = 0;
};

class LatencyWindow {
 public:
  [[nodiscard]] Latency read() const { return {RunLoop::seconds_since(start_), faults_.faults()}; }

 private:
  FaultWindow faults_;  // counted before the clock starts: its system call is not in the time
  RunLoop::Clock::time_point start_ = RunLoop::Clock::now();
};

}  // namespace densevm::cli
