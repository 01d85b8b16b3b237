// What the host kernel says about this process: resident and peak resident memory, read
// from /proc/self/status (VmRSS, VmHWM) — the numbers an operator sees, not our counters —
// and the anonymous part of the resident memory (RssAnon: guest frames and the VMM's heap,
// without file pages such as the binary's).
//
//   uint64_t rss = host_rss_bytes();
#pragma once

#include <cstdint>

namespace densevm::cli {

[[nodiscard]] uint64_t host_rss_bytes();
[[nodiscard]] uint64_t host_peak_rss_bytes();
[[nodiscard]] uint64_t host_rss_anon_bytes();
// Pss_Shmem of /proc/self/smaps_rollup: shared memory the process holds, each page once
// however many times it is mapped — the translator's code, a memfd mapped twice (RX and
// RW), which RSS counts twice and RssAnon not at all.
[[nodiscard]] uint64_t host_shmem_bytes();
// AnonHugePages of /proc/self/smaps_rollup: the part of the anonymous memory mapped by
// 2 MiB transparent huge pages (guest frames with --huge-frames).
[[nodiscard]] uint64_t host_anon_huge_bytes();

}  // namespace densevm::cli
