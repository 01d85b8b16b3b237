// Restore to the first instruction, phase by phase, for a 1 GiB guest with 512 MiB of
// distinct pages in an uncompressed snapshot file (lazy restore: nothing but the index is
// read): parsing and verifying the file's small sections, building the page table of the
// image, creating the VM and restoring its state. And clones: one more VM from an image.
//
//   build/bench/snapshot_restore_bench
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "cow-snapshots/snapshot_image.h"
#include "tests/support/tiny_elf.h"
#include "vmm/vm_image.h"

namespace densevm::snapshot {
namespace {

constexpr uint64_t kMem = uint64_t{1} << 30;
constexpr uint64_t kTouched = uint64_t{512} << 20;

// hlt; jmp $-1 : a guest that needs nothing but exists.
const std::vector<uint8_t> kIdle = {0xf4, 0xeb, 0xfd};

const std::string& snapshot_file() {
  static const std::string path = [] {
    FrameStore frames(uint64_t{3} << 30);
    Vm vm(frames, parse_elf(testing::tiny_elf(kIdle)), VmConfig{.id = 0, .mem_bytes = kMem, .cmdline = ""},
          [](int, std::string_view) {});
    std::vector<uint8_t> page(kPageSize);
    for (uint64_t off = 0; off < kTouched; off += kPageSize) {
      const uint64_t tag = off + 0x123456789;
      std::memcpy(page.data(), &tag, sizeof tag);
      if (!vm.memory().write(Gpa{(uint64_t{1} << 28) + off}, page.data(), page.size())) std::abort();
    }
    const std::string p = (std::filesystem::temp_directory_path() / "densevm-restore-bench.snap").string();
    (void)save_vm_file(vm, p, {.compress = false, .parent = nullptr, .parent_name = {}});
    return p;
  }();
  return path;
}

void BM_LoadIndex(benchmark::State& state) {
  const std::string& path = snapshot_file();
  for (auto _ : state) benchmark::DoNotOptimize(load_snapshot_chain(path, /*verify_pages=*/false));
}
BENCHMARK(BM_LoadIndex)->Unit(benchmark::kMillisecond);

void BM_BuildImage(benchmark::State& state) {
  const std::vector<Snapshot> chain = load_snapshot_chain(snapshot_file(), false);
  FrameStore frames(uint64_t{2} << 30);
  for (auto _ : state) benchmark::DoNotOptimize(std::make_shared<SnapshotImage>(chain, frames, false));
}
BENCHMARK(BM_BuildImage)->Unit(benchmark::kMillisecond);

void BM_RestoreVmLazy(benchmark::State& state) {
  FrameStore frames(uint64_t{2} << 30);
  const auto image = std::make_shared<SnapshotImage>(load_snapshot_chain(snapshot_file(), false), frames, true);
  uint64_t clone = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        restore_vm(vm_image(image), frames, [](int, std::string_view) {}, {.lazy = true, .vm_id = 0, .clone = ++clone}));
  }
}
BENCHMARK(BM_RestoreVmLazy)->Unit(benchmark::kMillisecond);

// Everything `densevm restore --lazy` does before the first instruction.
void BM_RestoreToFirstInstruction(benchmark::State& state) {
  FrameStore frames(uint64_t{2} << 30);
  for (auto _ : state) {
    auto image = std::make_shared<SnapshotImage>(load_snapshot_chain(snapshot_file(), false), frames, false);
    benchmark::DoNotOptimize(restore_vm(vm_image(image), frames, [](int, std::string_view) {}, {.lazy = true, .vm_id = 0, .clone = 0}));
  }
}
BENCHMARK(BM_RestoreToFirstInstruction)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace densevm::snapshot

BENCHMARK_MAIN();
