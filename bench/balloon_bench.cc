// Balloon reclaim on the host side: 1 GiB of resident guest pages inflated through the real
// virtio-mmio transport and balloon device (1024 PFNs per request, as our guest driver
// sends them), until the frames are back with the kernel (madvise). Reports MiB/s of host
// time; bench/balloon_reclaim.sh measures the whole loop with a guest.
//
//   build/bench/balloon_bench --benchmark_filter=Reclaim
#include <benchmark/benchmark.h>

#include <vector>

#include "balloon/balloon_device.h"
#include "virtio/virtio_mmio.h"

namespace densevm {
namespace {

constexpr uint64_t kReclaim = uint64_t{1} << 30;
constexpr uint64_t kRam = kReclaim + (uint64_t{64} << 20);
constexpr uint64_t kRing = 0x10000, kPfnPage = 0x20000, kFirstPage = 0x100000;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

void bring_up(VirtioMmio& mmio) {
  const uint64_t f = BalloonDevice::kFStatsVq | kVirtioFVersion1;
  const uint32_t writes[][2] = {
      {0x70, 0}, {0x70, 3}, {0x24, 0}, {0x20, static_cast<uint32_t>(f)}, {0x24, 1},
      {0x20, static_cast<uint32_t>(f >> 32)}, {0x70, 11}, {0x30, 0}, {0x38, 64},
      {0x80, kRing}, {0x90, kRing + 0x400}, {0xa0, kRing + 0x800}, {0x44, 1}, {0x70, 15}};
  for (const auto& w : writes) mmio.write(w[0], 4, w[1]);
}

void BM_Reclaim1GiB(benchmark::State& state) {
  for (auto _ : state) {
    state.PauseTiming();
    FrameStore frames(kRam + (uint64_t{256} << 20));
    GuestMemory memory(frames, kRam);
    BalloonDevice balloon(memory);
    VirtioMmio mmio(memory, balloon);
    bring_up(mmio);
    for (uint64_t a = kFirstPage; a < kFirstPage + kReclaim; a += kPageSize) {
      benchmark::DoNotOptimize(memory.writable_page(Gpa{a})[0] = 1);
    }
    state.ResumeTiming();
    std::vector<uint32_t> pfns(1024);
    uint16_t idx = 0;
    for (uint64_t pfn = kFirstPage >> kPageShift; pfn < (kFirstPage + kReclaim) >> kPageShift;) {
      for (uint32_t& p : pfns) p = static_cast<uint32_t>(pfn++);
      const Desc d{kPfnPage, 4096, 0, 0};
      const uint16_t head = 0;
      (void)memory.write(Gpa{kPfnPage}, pfns.data(), 4096);
      (void)memory.write(Gpa{kRing}, &d, sizeof d);
      (void)memory.write(Gpa{kRing + 0x404 + 2ull * (idx % 64)}, &head, 2);
      ++idx;
      (void)memory.write(Gpa{kRing + 0x402}, &idx, 2);
      mmio.write(0x50, 4, 0);
    }
    if (balloon.stats().discarded_pages != kReclaim >> kPageShift) state.SkipWithError("short");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kReclaim));
}
BENCHMARK(BM_Reclaim1GiB)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace densevm

BENCHMARK_MAIN();
