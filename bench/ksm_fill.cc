// Helper of ksm_compare.sh: memfill's page mix for Linux KSM to merge.
//
// Maps `guests` regions of `mib` MiB each, marks them MADV_MERGEABLE and fills them as
// memfill does: per 100 pages `zero` zero pages (written, so resident), `shared` pages
// identical in every region, the rest unique to their region. Prints one line,
// "ready pages=N mergeable=M" (M: pages KSM could free at best), then holds the memory
// until killed.
//
//   ksm_fill 4 96 30 40 &   # 4 x 96 MiB, 30% zero, 40% shared, 30% unique
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: ksm_fill GUESTS MIB ZERO%% SHARED%%\n");
    return 2;
  }
  const uint64_t guests = std::strtoull(argv[1], nullptr, 10);
  const uint64_t bytes = std::strtoull(argv[2], nullptr, 10) << 20;
  const uint64_t zero = std::strtoull(argv[3], nullptr, 10);
  const uint64_t shared = std::strtoull(argv[4], nullptr, 10);
  constexpr uint64_t kPage = 4096;
  const uint64_t pages = bytes / kPage;
  if (guests == 0 || pages == 0 || zero + shared > 100) {
    std::fprintf(stderr, "ksm_fill: bad arguments\n");
    return 2;
  }
  for (uint64_t g = 0; g < guests; ++g) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || madvise(p, bytes, MADV_MERGEABLE) != 0) {
      std::perror("ksm_fill: mmap/madvise(MADV_MERGEABLE)");
      return 1;
    }
    auto* base = static_cast<uint8_t*>(p);
    for (uint64_t i = 0; i < pages; ++i) {
      uint8_t* page = base + i * kPage;
      const uint64_t slot = i % 100;
      if (slot < zero) {
        std::memset(page, 0, kPage);  // resident, like memfill's zero pages
        continue;
      }
      uint64_t x = (slot < zero + shared ? 0 : (g + 1) << 40) + i + 1;
      for (uint64_t q = 0; q < kPage / 8; ++q) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        std::memcpy(page + q * 8, &x, 8);
      }
    }
  }
  // At best: all zero pages of all regions share one page, each shared page one per index.
  const uint64_t zero_pages = guests * (pages / 100 * zero + std::min(pages % 100, zero));
  const uint64_t shared_pages = pages / 100 * shared +
                                (pages % 100 > zero ? std::min(pages % 100 - zero, shared) : 0);
  const uint64_t mergeable = (zero_pages ? zero_pages - 1 : 0) + (guests - 1) * shared_pages;
  std::printf("ready pages=%llu mergeable=%llu\n", static_cast<unsigned long long>(guests * pages),
              static_cast<unsigned long long>(mergeable));
  std::fflush(stdout);
  while (true) pause();
}
