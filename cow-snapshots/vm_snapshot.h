// A whole VM as a snapshot file (FORMAT.md): config, device state (Vm::save), a page index
// and guest RAM with zero pages elided and identical pages stored once. A diff snapshot
// stores only the pages that differ from its parent's and names the parent by id and
// checksum.
//
//   SaveStats s = save_vm_file(vm, "base.snap", {.compress = true});
//   Snapshot snap = load_snapshot_file("base.snap");      // throws SnapshotError
//   auto image = std::make_shared<SnapshotImage>(load_snapshot_chain("child.snap"), frames, true);
//   std::unique_ptr<Vm> copy = restore_vm(image, frames, sink, {.lazy = true, .clone = 0});
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_format.h"
#include "vmm/page_source.h"
#include "vmm/vm.h"

namespace densevm::snapshot {

class SnapshotImage;

struct SaveStats {
  uint64_t file_bytes = 0;
  uint64_t pages_mapped = 0;      // resident guest pages at the checkpoint
  uint64_t pages_stored = 0;      // distinct non-zero pages written
  uint64_t zero_pages = 0;        // elided: not stored at all
  uint64_t duplicate_pages = 0;   // stored once, referenced again
  uint64_t unchanged_pages = 0;   // diff: the same as the parent's, not stored
  uint64_t dropped_pages = 0;     // diff: the parent's page is zero or gone now
};

struct SaveOptions {
  bool compress = false;
  // A diff against the snapshot the VM was restored from: `parent` is its image (the whole
  // chain), `parent_name` the parent file's name as the diff records it (relative to the
  // diff's directory when both are in one).
  const SnapshotImage* parent = nullptr;
  std::string parent_name;
};

// In the index, a diff's entry with this stored index drops the parent's page.
inline constexpr uint32_t kDroppedPage = 0xffffffffu;

struct PageRef {
  uint64_t gpa;     // page-aligned
  uint32_t stored;  // index into the stored pages, or kDroppedPage
};

struct Lineage {
  uint64_t id = 0;               // random, never 0
  uint64_t parent_id = 0;        // 0: a full snapshot
  uint64_t parent_checksum = 0;  // the parent's Container::content_checksum
  std::string parent_name;       // where the parent was, relative to this file's directory
};

// A parsed, verified snapshot. Copies share the file mapping (or decompressed pages).
struct Snapshot {
  uint32_t version = 0;
  uint32_t flags = 0;
  VmConfig config;
  std::vector<uint8_t> state;          // Vm::save record
  // The index, read in place (a lazy restore reads nothing it does not need): page_count
  // entries of 12 bytes, ascending gpa, and a u64 XXH3-64 per stored page.
  uint64_t page_count = 0;
  std::span<const uint8_t> entries;
  std::span<const uint8_t> hashes;
  uint64_t zero_pages = 0;
  uint64_t duplicate_pages = 0;
  uint64_t dropped_pages = 0;
  Lineage lineage;
  uint64_t content_checksum = 0;
  bool pages_verified = false;         // the pages section's checksum was checked
  std::span<const uint8_t> page_data;  // stored pages, 4 KiB each
  std::shared_ptr<const void> file_owner;  // keeps entries, hashes and page_data alive
  std::shared_ptr<const void> page_owner;  // decompressed pages
  struct SectionInfo {
    SectionId id;
    uint64_t bytes;
    uint64_t checksum;
  };
  std::vector<SectionInfo> sections;
  uint64_t file_bytes = 0;
  std::string path;  // empty when parsed from memory
  [[nodiscard]] uint64_t stored_pages() const { return hashes.size() / sizeof(uint64_t); }
  [[nodiscard]] PageRef page(uint64_t i) const {
    PageRef r;
    std::memcpy(&r.gpa, entries.data() + i * 12, 8);
    std::memcpy(&r.stored, entries.data() + i * 12 + 8, 4);
    return r;
  }
  [[nodiscard]] uint64_t page_hash(uint32_t i) const {
    uint64_t h;
    std::memcpy(&h, hashes.data() + uint64_t{i} * 8, 8);
    return h;
  }
  [[nodiscard]] const uint8_t* stored_page(uint32_t i) const {
    return page_data.data() + uint64_t{i} * kPageSize;
  }
  [[nodiscard]] bool is_diff() const { return (flags & kFlagDiff) != 0; }
};

// The file image of a VM between slices. A full save of a VM restored lazily first fetches
// every page it still owes (GuestMemory::materialize); a diff compares only what is mapped.
[[nodiscard]] std::vector<uint8_t> encode_vm(Vm& vm, const SaveOptions& options, SaveStats& stats);
// Streams the same bytes as encode_vm (pages straight from the guest's frames, never the
// whole file in memory) to a temp file in path's directory, fsyncs and renames it over
// path. Throws std::runtime_error; never leaves a partial file under path.
[[nodiscard]] SaveStats save_vm_file(Vm& vm, const std::string& path, const SaveOptions& options);

// Verifies every length and checksum (the pages section's only if verify_pages) and every
// index entry; throws SnapshotError (one line). `owner` keeps `file` alive for page_data.
[[nodiscard]] Snapshot parse_snapshot(std::span<const uint8_t> file, std::shared_ptr<const void> owner,
                                      bool verify_pages = true);
[[nodiscard]] Snapshot load_snapshot_file(const std::string& path, bool verify_pages = true);
// The file and, for a diff, its parents up to the full snapshot: root first. A parent is
// looked for at its recorded name relative to the child's directory, or at parent_path for
// the first one if given; its id, checksum and memory size must match what the child
// recorded. At most 64 levels.
[[nodiscard]] std::vector<Snapshot> load_snapshot_chain(const std::string& path, bool verify_pages = true,
                                                        const std::optional<std::string>& parent_path = {});

struct RestoreOptions {
  bool lazy = false;  // pages come from the image on first touch instead of up front
  int vm_id = 0;
  // The new generation id: a fixed function of the image and this number, so repeating a
  // restore repeats the run exactly while clones (1, 2, ...) get ids of their own.
  uint64_t clone = 0;
  // The VM that was frozen goes on from its template (a checkpoint taken while it runs): the
  // same VM, so it keeps its generation id (`clone` is not used) and its counters go on.
  bool same_vm = false;
};

// What a VM is restored from: a snapshot chain (SnapshotImage) or a VM frozen in memory
// (VmTemplate). `pages` keeps `state` alive.
struct VmImage {
  VmConfig config;
  std::span<const uint8_t> state;      // Vm::save record
  std::shared_ptr<PageSource> pages;   // the new VM's memory source
  uint64_t identity = 0;               // seeds generation ids: what the image holds
  const Vm* frozen = nullptr;          // a template's VM: same_vm continues its counters
  uint32_t version = kStateVersion;    // the state record's layout (a file's version)
};

// The top snapshot's config and state, the chain's pages, its content checksum as identity.
[[nodiscard]] VmImage vm_image(const std::shared_ptr<SnapshotImage>& image);

// A fresh VM from the image: the image becomes its memory's page source (eager: every page
// is mapped before this returns), then Vm::restore and, unless same_vm, a new generation
// id: XXH3-128 of {identity, clone}. Throws SnapshotError.
[[nodiscard]] std::unique_ptr<Vm> restore_vm(const VmImage& image, FrameStore& frames, Vm::ConsoleSink sink,
                                             const RestoreOptions& options);
[[nodiscard]] std::unique_ptr<Vm> restore_vm(const std::shared_ptr<SnapshotImage>& image, FrameStore& frames,
                                             Vm::ConsoleSink sink, const RestoreOptions& options);

}  // namespace densevm::snapshot
