// Frame allocation rate of the FrameStore, one pool (as before NUMA placement) against one
// pool per node (issue 17): a batch of 4096 frames allocated, each written once (a first touch
// where the frame is fresh from the kernel), then released and given back (madvise), again and
// again. bench/frame_pools.sh builds this file twice, against the FrameStore of a given commit
// and against this tree's, and runs the two alternately; with DENSEVM_FRAME_POOLS (this
// tree's) it also measures the pools: a request for pool P of N, and requests falling back
// from a full pool to the next.
#include <benchmark/benchmark.h>

#include <vector>

#include "core/frame_store.h"

namespace densevm {
namespace {

constexpr int kBatch = 4096;

void cycle(benchmark::State& state, FrameStore& frames, auto allocate) {
  std::vector<Hpa> held;
  held.reserve(kBatch);
  for (auto _ : state) {
    for (int i = 0; i < kBatch; ++i) {
      const std::optional<Hpa> hpa = allocate();
      if (!hpa) {
        state.SkipWithError("out of frames");
        return;
      }
      frames.host_ptr(*hpa)[0] = 1;
      held.push_back(*hpa);
    }
    for (const Hpa hpa : held) frames.release(hpa);
    held.clear();
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}

void BM_OnePool(benchmark::State& state) {
  FrameStore frames(uint64_t{1} << 30);
  cycle(state, frames, [&] { return frames.allocate(); });
}
BENCHMARK(BM_OnePool);

#ifdef DENSEVM_FRAME_POOLS
// N pools of 256 MiB; requests for the last.
void BM_PoolOfN(benchmark::State& state) {
  const auto n = static_cast<uint32_t>(state.range(0));
  std::vector<FramePoolSpec> pools(n, {.capacity_bytes = uint64_t{256} << 20, .fallback = {}});
  for (uint32_t p = 0; p < n; ++p) {
    for (uint32_t q = 1; q < n; ++q) pools[p].fallback.push_back((p + q) % n);
  }
  FrameStore frames(pools);
  cycle(state, frames, [&] { return frames.allocate(n - 1); });
}
BENCHMARK(BM_PoolOfN)->Arg(2)->Arg(4);

// Pool 1 holds 16 frames, all in use: every request falls back to pool 0.
void BM_FallBack(benchmark::State& state) {
  FrameStore frames({{.capacity_bytes = uint64_t{256} << 20, .fallback = {1}},
                     {.capacity_bytes = 16 * kPageSize, .fallback = {0}}});
  for (int i = 0; i < 16; ++i) (void)frames.allocate(1);
  cycle(state, frames, [&] { return frames.allocate(1); });
}
BENCHMARK(BM_FallBack);
#endif

}  // namespace
}  // namespace densevm

BENCHMARK_MAIN();
