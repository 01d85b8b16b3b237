// Dedup scan throughput on one core: pages visited per second by DedupScanner::step at
// --dedup-rate max (one whole pass per step), over guest memories filled like memfill.
// Goal: 500,000 pages/s. XXH3 alone over one page is the floor.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "dedup/dedup_scanner.h"
#include "dedup/scan_rate.h"

namespace {

using namespace densevm;

constexpr uint64_t kGuests = 4;
constexpr uint64_t kGuestBytes = uint64_t{32} << 20;
constexpr uint64_t kMax = ScanRate::kUnlimitedBudget;

// memfill's mix: per 100 pages `zero` zero pages, `shared` pages equal in every guest, the
// rest unique to their guest.
struct Guests {
  Guests(uint64_t zero, uint64_t shared) : frames(uint64_t{1} << 31) {
    for (uint64_t g = 0; g < kGuests; ++g) {
      auto& mem = *mems.emplace_back(std::make_unique<GuestMemory>(frames, kGuestBytes));
      for (uint64_t i = 0; i < kGuestBytes / kPageSize; ++i) {
        uint8_t* page = mem.writable_page(Gpa{i * kPageSize});
        const uint64_t slot = i % 100;
        if (slot < zero) continue;  // populated, all zero
        uint64_t x = (slot < zero + shared ? 0 : (g + 1) << 40) + i + 1;
        for (uint64_t q = 0; q < kPageSize / 8; ++q) {
          x = x * 6364136223846793005ull + 1442695040888963407ull;
          std::memcpy(page + q * 8, &x, 8);
        }
      }
    }
  }
  void add_to(DedupScanner& dedup) {
    for (auto& m : mems) dedup.add(*m, 0);
  }
  FrameStore frames;
  std::vector<std::unique_ptr<GuestMemory>> mems;
};

void report(benchmark::State& state, const DedupScanner& dedup, uint64_t before) {
  const uint64_t pages = dedup.stats().pages_scanned - before;
  state.SetItemsProcessed(static_cast<int64_t>(pages));
  state.SetBytesProcessed(static_cast<int64_t>(pages * kPageSize));
}

// Worst case for a steady scan: every page private and unique, so every visit hashes the
// page, finds it stable and files it as a candidate that never meets a twin.
void BM_ScanUniquePages(benchmark::State& state) {
  Guests guests(0, 0);
  DedupScanner dedup(guests.frames);
  guests.add_to(dedup);
  dedup.step(kMax);
  const uint64_t before = dedup.stats().pages_scanned;
  for (auto _ : state) dedup.step(kMax);
  report(state, dedup, before);
}
BENCHMARK(BM_ScanUniquePages)->Unit(benchmark::kMillisecond);

// After merging memfill's 30/40/30 mix: merged pages cost a P2M visit and a refcount read,
// unique ones a hash.
void BM_ScanMergedMix(benchmark::State& state) {
  Guests guests(30, 40);
  DedupScanner dedup(guests.frames);
  guests.add_to(dedup);
  dedup.step(kMax);
  dedup.step(kMax);
  const uint64_t before = dedup.stats().pages_scanned;
  for (auto _ : state) dedup.step(kMax);
  report(state, dedup, before);
  state.counters["bytes_saved_MiB"] = static_cast<double>(dedup.stats().bytes_saved >> 20);
}
BENCHMARK(BM_ScanMergedMix)->Unit(benchmark::kMillisecond);

// The pass that merges: hash, memcmp verify, remap (P2M notify), release and madvise.
void BM_MergingPass(benchmark::State& state) {
  uint64_t pages = 0, merges = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto guests = std::make_unique<Guests>(30, 40);
    auto dedup = std::make_unique<DedupScanner>(guests->frames);
    guests->add_to(*dedup);
    dedup->step(kMax);
    const uint64_t before = dedup->stats().pages_scanned;
    state.ResumeTiming();
    dedup->step(kMax);
    state.PauseTiming();
    pages += dedup->stats().pages_scanned - before;
    merges += dedup->stats().merges;
    dedup.reset();
    guests.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(pages));
  state.counters["merges_per_pass"] =
      static_cast<double>(merges) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_MergingPass)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_Xxh3Page(benchmark::State& state) {
  std::vector<uint8_t> page(kPageSize, 0x5a);
  for (auto _ : state) benchmark::DoNotOptimize(xxh3_page(page.data()));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPageSize));
}
BENCHMARK(BM_Xxh3Page);

}  // namespace

BENCHMARK_MAIN();
