// A snapshot file (FORMAT.md): a machine's config, its state record, a page index and guest
// RAM with zero pages elided and identical pages stored once; a diff stores only the pages
// that differ from its parent's and names the parent by id and checksum. This is the file
// format alone: what the config and state records mean to a VM, and how a VM is rebuilt from
// a file, is vmm/vm_image.h's.
//
//   SaveStats s = save_snapshot_file({config, state}, memory, "base.snap", {.compress = true});
//   Snapshot snap = load_snapshot_file("base.snap");      // throws SnapshotError
//   auto image = std::make_shared<SnapshotImage>(load_snapshot_chain("child.snap"), frames, true);
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_format.h"
#include "mmu/guest_memory.h"
#include "mmu/mmu_policy.h"

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

// The config section: what a machine is, as far as restoring its state needs.
struct SnapshotConfig {
  uint64_t mem_bytes = 0;  // a non-zero multiple of 4 KiB, at most 1 TiB
  std::string cmdline;     // as the guest saw it, minus what the VMM adds
  PagingMode paging = PagingMode::kAuto;
  bool check_mmu = false;
  std::optional<int> numa_node{};  // (version 4) the VM's home NUMA node when saved, if it had one
};

// What a snapshot is made of besides guest RAM: the config, and the state record its owner
// wrote (vmm/vm_state.h), which the file keeps as it is.
struct SnapshotContents {
  SnapshotConfig config;
  std::span<const uint8_t> state;
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
  SnapshotConfig config;
  std::vector<uint8_t> state;          // the state record, of this file's version
  // The index, read in place (a lazy restore reads nothing it does not need): page_count
  // IndexEntry records, ascending gpa, and a u64 XXH3-64 per stored page.
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
  [[nodiscard]] IndexEntry page(uint64_t i) const {
    IndexEntry e;
    std::memcpy(&e, entries.data() + i * sizeof(IndexEntry), sizeof e);
    return e;
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

// A stored page is what its index hash says (XXH3-64).
[[nodiscard]] bool page_intact(const uint8_t* page, uint64_t hash);

// The file image of `contents` and the RAM of `memory`, a machine between slices. A full
// save first fetches every page memory still owes its source (GuestMemory::materialize;
// std::runtime_error if one cannot be read); a diff compares only what is mapped.
[[nodiscard]] std::vector<uint8_t> encode_snapshot(const SnapshotContents& contents, GuestMemory& memory,
                                                   const SaveOptions& options, SaveStats& stats);
// Streams the same bytes as encode_snapshot (pages straight from the guest's frames, never the
// whole file in memory) to a temp file in path's directory, fsyncs and renames it over path.
// Throws std::runtime_error; never leaves a partial file under path.
[[nodiscard]] SaveStats save_snapshot_file(const SnapshotContents& contents, GuestMemory& memory,
                                           const std::string& path, const SaveOptions& options);

// Verifies every length and checksum, every index entry (a guest page of the config's RAM,
// never device space) and the counts against the entries, and with verify_pages the pages
// section's checksum and every stored page against its hash (page_intact); throws
// SnapshotError (one line naming what is wrong). What restore and inspect both read a file
// with. `owner` keeps `file` alive for page_data.
[[nodiscard]] Snapshot parse_snapshot(std::span<const uint8_t> file, std::shared_ptr<const void> owner,
                                      bool verify_pages = true);
[[nodiscard]] Snapshot load_snapshot_file(const std::string& path, bool verify_pages = true);
// The file and, for a diff, its parents up to the full snapshot: root first. A parent is
// looked for at its recorded name relative to the child's directory, or at parent_path for
// the first one if given; its id, checksum and memory size must match what the child
// recorded. At most 64 levels.
[[nodiscard]] std::vector<Snapshot> load_snapshot_chain(const std::string& path, bool verify_pages = true,
                                                        const std::optional<std::string>& parent_path = {});

}  // namespace densevm::snapshot
