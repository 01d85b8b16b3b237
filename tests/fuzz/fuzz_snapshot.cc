// Fuzz target (LLVMFuzzerTestOneInput): snapshot files, through the reader `densevm restore`
// and `densevm snapshot inspect` share (parse_snapshot), the pages' table (SnapshotImage) and
// a lazy restore_vm of the state record into a VM, which then runs a short slice.
//
// Input: byte 0, bit 0: recompute every section checksum before reading, so that mutations
// get past the checksums into the sections' contents (index, state, zstd frame, lineage);
// bit 1: read as a lazy restore does (the pages section unchecked, each page checked when
// first touched). The rest is the file.
//
// Findings abort: a crash, hang or sanitizer report, and any exception but the one-line
// SnapshotError a bad file gets. A file refused is not a finding.
#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/snapshot_image.h"
#include "tests/fuzz/fuzz_stats.h"
#include "vmm/vm_image.h"

namespace {

using namespace densevm;
using densevm::testing::fuzz_stats;

// Restoring allocates per page of RAM (the pages' table, the balloon's bitmap): a fuzzed
// config of a terabyte is the reader's to refuse or accept, not a VM to build here.
constexpr uint64_t kMaxRestoredRam = uint64_t{64} << 20;
constexpr uint64_t kSliceInstructions = 2000;

// Every section's checksum made to match its payload, as far as the section headers go.
void fix_checksums(std::vector<uint8_t>& file) {
  size_t at = snapshot::kHeaderBytes;
  while (at + snapshot::kSectionHeaderBytes <= file.size()) {
    uint64_t length = 0;
    std::memcpy(&length, file.data() + at + 4, 8);
    const size_t payload = at + snapshot::kSectionHeaderBytes;
    if (length > file.size() - payload) return;
    const uint64_t sum = XXH3_64bits(file.data() + payload, length);
    std::memcpy(file.data() + at + 12, &sum, 8);
    at = payload + length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  densevm::testing::note_execution();
  if (size < 1) return 0;
  std::vector<uint8_t> file(data + 1, data + size);
  if (data[0] & 1) fix_checksums(file);
  const bool lazy = (data[0] & 2) != 0;
  try {
    snapshot::Snapshot s = snapshot::parse_snapshot(file, nullptr, /*verify_pages=*/!lazy);
    // A diff needs its parent's file: the reader alone is what a file can reach here.
    if (s.is_diff() || s.config.mem_bytes > kMaxRestoredRam) return 0;
    FrameStore frames(s.config.mem_bytes * 2 + (uint64_t{16} << 20));
    std::vector<snapshot::Snapshot> chain;
    chain.push_back(std::move(s));
    auto image = std::make_shared<snapshot::SnapshotImage>(std::move(chain), frames, /*shared=*/false);
    std::unique_ptr<Vm> vm = restore_vm(vm_image(image), frames, [](int, std::string_view) {}, {.lazy = true});
    ++fuzz_stats().accepted;
    (void)vm->run_slice(kSliceInstructions);
  } catch (const snapshot::SnapshotError&) {
    ++fuzz_stats().refused;
  }
  return 0;
}
