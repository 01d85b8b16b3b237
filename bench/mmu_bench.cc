// Cost of one soft-TLB miss under nested paging: the 2D walk (walk_guest: guest 4-level
// tables, each reference translated through the 4-level EPT P2M) over a working set of 4 KiB
// pages.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "mmu/guest_memory.h"
#include "mmu/guest_walk.h"

namespace {

using namespace densevm;

constexpr uint64_t kTableFlags = 0x7;  // present, writable, user
constexpr uint64_t kUserBase = uint64_t{1} << 39;

// Guest tables mapping `pages` user pages at kUserBase to RAM at 16 MiB; returns CR3.
uint64_t build_guest_tables(GuestMemory& mem, uint64_t pages) {
  uint64_t next_table = 0x100000;
  auto alloc = [&] { const uint64_t t = next_table; next_table += kPageSize; return t; };
  const uint64_t pml4 = alloc();
  for (uint64_t i = 0; i < pages; ++i) {
    const uint64_t va = kUserBase + i * kPageSize;
    uint64_t table = pml4;
    for (unsigned level = 4; level > 1; --level) {
      const uint64_t slot = table + ((va >> (12 + 9 * (level - 1))) & 511) * 8;
      uint64_t entry = 0;
      (void)mem.read(Gpa{slot}, &entry, 8);
      if (!(entry & 1)) {
        entry = alloc() | kTableFlags;
        (void)mem.write(Gpa{slot}, &entry, 8);
      }
      table = entry & 0x000ffffffffff000;
    }
    const uint64_t pte = ((16u << 20) + i * kPageSize) | kTableFlags;
    (void)mem.write(Gpa{table + ((va >> 12) & 511) * 8}, &pte, 8);
  }
  return pml4;
}

void BM_NestedWalk(benchmark::State& state) {
  const uint64_t pages = static_cast<uint64_t>(state.range(0));
  FrameStore frames(uint64_t{1} << 32);
  GuestMemory mem(frames, uint64_t{512} << 20);
  PagingContext ctx;
  ctx.cr3 = build_guest_tables(mem, pages);
  ctx.user = true;
  for (uint64_t i = 0; i < pages; ++i) (void)mem.writable_page(Gpa{(16u << 20) + i * kPageSize});
  std::mt19937_64 rng(1);
  std::vector<uint64_t> addrs(4096);
  for (auto& a : addrs) a = kUserBase + (rng() % pages) * kPageSize;
  size_t i = 0;
  uint64_t walks = 0, references = 0;
  for (auto _ : state) {
    GuestWalk w = walk_guest(mem, Gva{addrs[i++ & 4095]}, Access::kRead, ctx, WalkMode::kAccess);
    benchmark::DoNotOptimize(w);
    ++walks;
    references += w.references;
  }
  state.counters["refs_per_walk"] = static_cast<double>(references) / static_cast<double>(walks);
}
BENCHMARK(BM_NestedWalk)->Arg(512)->Arg(8192)->Arg(65536);

}  // namespace

BENCHMARK_MAIN();
