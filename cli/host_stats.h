// What the host kernel says about this process: resident and peak resident memory, read
// from /proc/self/status (VmRSS, VmHWM) — the numbers an operator sees, not our counters.
//
//   uint64_t rss = host_rss_bytes();
#pragma once

#include <cstdint>

namespace densevm::cli {

[[nodiscard]] uint64_t host_rss_bytes();
[[nodiscard]] uint64_t host_peak_rss_bytes();

}  // namespace densevm::cli
