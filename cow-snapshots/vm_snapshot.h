// A whole VM as a snapshot file: config, device state (Vm::save) and guest RAM with zero
// pages elided and identical pages stored once (FORMAT.md). Restore is eager: every stored
// page is copied into a fresh, unbooted VM before it runs.
//
//   SaveStats s = save_vm_file(vm, "vm.snap", /*compress=*/true);
//   Snapshot snap = load_snapshot_file("vm.snap");        // throws SnapshotError
//   std::unique_ptr<Vm> copy = restore_vm(snap, frames, sink);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_format.h"
#include "vmm/vm.h"

namespace densevm::snapshot {

struct SaveStats {
  uint64_t file_bytes = 0;
  uint64_t pages_mapped = 0;      // resident guest pages at the checkpoint
  uint64_t pages_stored = 0;      // distinct non-zero pages written
  uint64_t zero_pages = 0;        // elided: not stored at all
  uint64_t duplicate_pages = 0;   // stored once, referenced again
};

struct PageRef {
  uint64_t gpa;     // page-aligned
  uint32_t stored;  // index into the stored pages
};

// A parsed, fully verified snapshot. Owns its bytes.
struct Snapshot {
  uint32_t version = 0;
  uint32_t flags = 0;
  VmConfig config;
  std::vector<uint8_t> state;  // Vm::save record
  std::vector<PageRef> pages;  // ascending gpa
  uint64_t zero_pages = 0;
  uint64_t duplicate_pages = 0;
  std::vector<uint8_t> page_data;  // stored pages, 4 KiB each
  struct SectionInfo {
    SectionId id;
    uint64_t bytes;
    uint64_t checksum;
  };
  std::vector<SectionInfo> sections;
  uint64_t file_bytes = 0;
  [[nodiscard]] uint64_t stored_pages() const { return page_data.size() / kPageSize; }
};

// The file image of a VM between slices.
[[nodiscard]] std::vector<uint8_t> encode_vm(Vm& vm, bool compress, SaveStats& stats);
// Writes encode_vm to a temp file in path's directory, fsyncs and renames it over path.
// Throws std::runtime_error; never leaves a partial file under path.
[[nodiscard]] SaveStats save_vm_file(Vm& vm, const std::string& path, bool compress);

// Verifies every checksum and every length; throws SnapshotError (one line).
[[nodiscard]] Snapshot parse_snapshot(std::span<const uint8_t> file);
[[nodiscard]] Snapshot load_snapshot_file(const std::string& path);

// Rebuilds the VM: stored pages into fresh RAM, then Vm::restore. Throws SnapshotError.
[[nodiscard]] std::unique_ptr<Vm> restore_vm(const Snapshot& snap, FrameStore& frames,
                                             Vm::ConsoleSink sink);

}  // namespace densevm::snapshot
