// In-memory checkpoints of a 1 GiB guest with 512 MiB touched (issue 7): the pause to take
// one, and a rollback (memory, then the vCPU and devices as `--rollback-every` does) as a
// function of the pages dirtied since. Goals: pause under 1 ms; rollback under 10 us +
// 0.2 us per dirty page. The VM is unbooted and its RAM filled from the host, so the P2M,
// its listeners (the VM's soft TLB and decode cache, the MMU) and the device state are the
// real ones; guest writes are made through GuestMemory, the path an EPT write fault takes
// (break_cow), so dirtying a page costs what a guest's first write does. Times are host
// time of the operation alone (manual timing); dirtying is outside it.
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>

#include "cow-snapshots/memory_checkpoint.h"
#include "vmm/vm.h"

namespace {

using namespace densevm;
using snapshot::MemoryCheckpoint;

constexpr uint64_t kGuestBytes = uint64_t{1} << 30;
constexpr uint64_t kTouchedPages = (uint64_t{512} << 20) / kPageSize;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Guest {
  Guest() : frames(uint64_t{4} << 30), vm(frames, config(), [](int, std::string_view) {}) {
    for (uint64_t p = 0; p < kTouchedPages; ++p) write(p, p + 1);
    state = vm.save();
  }
  static VmConfig config() {
    VmConfig c;
    c.mem_bytes = kGuestBytes;
    return c;
  }
  void write(uint64_t page, uint64_t value) {
    if (!vm.memory().write(Gpa::from_page(page), &value, sizeof value)) std::abort();
  }
  // Back to no checkpoint: the top-level restriction goes too, so the next one starts anew.
  void unrestrict() { (void)vm.memory().p2m_for_testing().unrestrict_subtree(Gpa{0}, EptEntry::kLevels); }

  FrameStore frames;
  Vm vm;
  VmState state;
};

Guest& guest() {
  static Guest g;
  return g;
}

// The memory part of the pause: restricting the top-level EPT entry, whatever the size.
void BM_CheckpointPause(benchmark::State& state) {
  Guest& g = guest();
  const GuestMemory& memory = g.vm.memory();
  uint64_t writes = 0;
  for (auto _ : state) {
    const uint64_t before = memory.ept_stats().entry_writes;
    const auto t0 = std::chrono::steady_clock::now();
    MemoryCheckpoint cp(g.vm.memory());
    state.SetIterationTime(seconds_since(t0));
    writes = memory.ept_stats().entry_writes - before;
    benchmark::DoNotOptimize(cp.pages());
    g.unrestrict();
  }
  state.counters["entry_writes"] = static_cast<double>(writes);
  state.counters["pages_covered"] = static_cast<double>(memory.ept_stats().mapped_pages);
}
BENCHMARK(BM_CheckpointPause)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The whole pause of `--rollback-every`: the VM's state, then the memory checkpoint.
void BM_CheckpointPauseWithVmState(benchmark::State& state) {
  Guest& g = guest();
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    const VmState saved = g.vm.save();
    MemoryCheckpoint cp(g.vm.memory());
    state.SetIterationTime(seconds_since(t0));
    benchmark::DoNotOptimize(cp.pages());
    benchmark::DoNotOptimize(saved.markers);
    g.unrestrict();
  }
}
BENCHMARK(BM_CheckpointPauseWithVmState)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Rollback after `dirty` pages of the touched half were written (copy-on-write), spread
// evenly over it; `first_write_us` is what each of those first writes cost meanwhile.
void BM_RollbackDirtyPages(benchmark::State& state) {
  Guest& g = guest();
  const auto dirty = static_cast<uint64_t>(state.range(0));
  const uint64_t stride = dirty == 0 ? 1 : kTouchedPages / dirty;
  MemoryCheckpoint cp(g.vm.memory());
  uint64_t restored = 0;
  double writing = 0;
  uint64_t value = 0;
  for (auto _ : state) {
    const auto w0 = std::chrono::steady_clock::now();
    ++value;
    for (uint64_t i = 0; i < dirty; ++i) g.write(i * stride, value);
    writing += seconds_since(w0);
    const auto t0 = std::chrono::steady_clock::now();
    restored = cp.rollback();
    g.vm.restore(g.state, cpu::RestoredMemory::kReported);
    state.SetIterationTime(seconds_since(t0));
  }
  if (restored != dirty) state.SkipWithError("rollback restored another number of pages");
  state.counters["pages_restored"] = static_cast<double>(restored);
  if (dirty != 0) {
    state.counters["first_write_us"] =
        writing * 1e6 / static_cast<double>(dirty * static_cast<uint64_t>(state.iterations()));
  }
}
BENCHMARK(BM_RollbackDirtyPages)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Arg(0)
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->Arg(4096)
    ->Arg(32768)
    ->Arg(131072);

// Rollback after `fresh` pages of the untouched half got their first frame: each is unmapped
// again and its frame goes back to the host.
void BM_RollbackFreshPages(benchmark::State& state) {
  Guest& g = guest();
  const auto fresh = static_cast<uint64_t>(state.range(0));
  MemoryCheckpoint cp(g.vm.memory());
  uint64_t restored = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; i < fresh; ++i) g.write(kTouchedPages + i, i + 1);
    const auto t0 = std::chrono::steady_clock::now();
    restored = cp.rollback();
    g.vm.restore(g.state, cpu::RestoredMemory::kReported);
    state.SetIterationTime(seconds_since(t0));
  }
  if (restored != fresh) state.SkipWithError("rollback restored another number of pages");
  state.counters["pages_restored"] = static_cast<double>(restored);
}
BENCHMARK(BM_RollbackFreshPages)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Arg(256)
    ->Arg(4096)
    ->Arg(131072);

}  // namespace

BENCHMARK_MAIN();
