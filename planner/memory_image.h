// Memory images the planner fingerprints, read into one hash per guest RAM page:
//
// - densevm snapshot files, diff chains included (cow-snapshots/: the chain is composed as a
//   restore composes it; every stored page is checked against its hash in the index);
// - QEMU `dump-guest-memory` ELF cores (qemu_dump.h): PT_LOAD segments by guest-physical
//   address, refused unless the core carries QEMU's own note;
// - raw RAM files, named `raw:PATH` (a raw file has no magic to recognize it by): guest
//   physical address 0 on, a whole number of 4 KiB pages.
//
// Anything else, a truncated file or one that is not what it claims is refused with one line
// (ImageError or the snapshot reader's SnapshotError, both std::runtime_error).
//
//   MemoryImage m = read_memory_image("vm.snap", [](uint64_t done, uint64_t total) { ... });
//   Fingerprint fp = fingerprint_of("vm.snap", m.kind, m.ranges, m.page_hashes);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "planner/fingerprint.h"

namespace densevm::planner {

struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MemoryImage {
  ImageKind kind = ImageKind::kRaw;
  uint64_t image_bytes = 0;      // the file's size (a snapshot chain: every file's)
  std::vector<PageRun> ranges;   // guest-physical RAM the image covers, ascending
  std::vector<uint64_t> page_hashes;  // XXH3-64 per page of `ranges`, in order
  std::optional<uint64_t> working_set_pages;
  uint64_t bytes_read = 0;       // image bytes hashed (what the read's MB/s is of)
};

// Called now and then with the image bytes hashed so far and the total to hash.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

[[nodiscard]] MemoryImage read_memory_image(const std::string& spec, const Progress& progress = nullptr);
[[nodiscard]] MemoryImage read_snapshot_image(const std::string& path, const Progress& progress);
[[nodiscard]] MemoryImage read_qemu_dump(const std::string& path, const Progress& progress);
[[nodiscard]] MemoryImage read_raw_image(const std::string& path, const Progress& progress);

// read_memory_image, then fingerprint_of, named after the file (its path without "raw:").
[[nodiscard]] Fingerprint fingerprint_image(const std::string& spec, const Progress& progress = nullptr);

}  // namespace densevm::planner
