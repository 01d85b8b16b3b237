#include "cli/host_stats.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace densevm::cli {
namespace {

uint64_t status_kib(const char* key, const char* file = "/proc/self/status") {
  std::FILE* f = std::fopen(file, "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  const size_t n = std::strlen(key);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, key, n) == 0 && line[n] == ':') {
      kib = std::strtoull(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

}  // namespace

uint64_t host_rss_bytes() { return status_kib("VmRSS") * 1024; }
uint64_t host_peak_rss_bytes() { return status_kib("VmHWM") * 1024; }
uint64_t host_rss_anon_bytes() { return status_kib("RssAnon") * 1024; }
uint64_t host_shmem_bytes() { return status_kib("Pss_Shmem", "/proc/self/smaps_rollup") * 1024; }
uint64_t host_anon_huge_bytes() { return status_kib("AnonHugePages", "/proc/self/smaps_rollup") * 1024; }

}  // namespace densevm::cli
