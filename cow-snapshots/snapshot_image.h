// SnapshotImage: a snapshot chain (a full snapshot and the diffs on top of it) as the guest
// RAM it describes, serving pages to the VMs restored from it (a PageSource).
//
// Built once per restore on the chain's table from guest page to stored page (ChainPages).
// Pages are copied out of the file (mapped, so only what is used is read) when a VM first
// touches them, and checked against their XXH3-64 from the index. Shared, every stored page is loaded into one frame that every VM maps read-only
// (clones: copy-on-write); unshared, each fetch copies into a frame of its own.
//
//   auto image = std::make_shared<SnapshotImage>(load_snapshot_chain("vm.snap"), frames, true);
//   vm.memory().set_source(image);
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/frame_store.h"
#include "core/page_source.h"
#include "core/zeroed_array.h"
#include "cow-snapshots/chain_pages.h"
#include "cow-snapshots/snapshot_file.h"

namespace densevm::snapshot {

class SnapshotImage final : public PageSource {
 public:
  // chain: root first (load_snapshot_chain). Throws SnapshotError if an entry lies outside
  // guest RAM.
  SnapshotImage(std::vector<Snapshot> chain, FrameStore& frames, bool shared);
  ~SnapshotImage() override;
  SnapshotImage(const SnapshotImage&) = delete;
  SnapshotImage& operator=(const SnapshotImage&) = delete;

  [[nodiscard]] Fetch fetch(Gpa page, Hpa* hpa) override;
  // Frames are loaded into the pool of the first VM that asks (its home NUMA node's);
  // pool 0 unless asked. Clones homed elsewhere share those frames until they write them.
  void prefer_pool(uint32_t pool) override {
    if (!pool_chosen_.exchange(true)) pool_ = pool;
  }
  void for_each_held_page(const std::function<void(Gpa)>& visit) const override;

  // The newest snapshot of the chain: its config and state are the VM's.
  [[nodiscard]] const Snapshot& top() const { return layout_.top(); }
  [[nodiscard]] size_t depth() const { return layout_.chain().size(); }
  // The page's contents as the chain describes them; nullptr for a zero or absent page.
  [[nodiscard]] const uint8_t* content(Gpa page) const;
  // Every page with contents, ascending.
  void for_each_page(const std::function<void(Gpa, const uint8_t*)>& visit) const;
  [[nodiscard]] uint64_t pages() const { return layout_.pages(); }
  // After an eager restore every page is in a frame: the file's pages that were read to copy
  // them need not stay in the process's RSS. Drops them from this process's mapping (they are
  // read again, from the page cache, if anything touches them later: a diff's save). Pages
  // decompressed into memory (a compressed file) are kept.
  void release_file_pages() const;
  [[nodiscard]] uint64_t fetches() const { return fetches_.load(std::memory_order_relaxed); }
  [[nodiscard]] uint64_t frames_loaded() const { return loaded_count_.load(std::memory_order_relaxed); }

 private:
  // A frame holding stored page s, verified; nullopt with *fetch set on failure.
  [[nodiscard]] std::optional<Hpa> load(uint32_t s, Fetch* failure);

  ChainPages layout_;
  FrameStore& frames_;
  uint32_t pool_ = 0;
  std::atomic<bool> pool_chosen_{false};
  bool shared_;
  // shared: frame per stored page, 0 = none; untouched until a clone first fetches the page
  ZeroedArray<std::atomic<uint64_t>> loaded_;
  std::atomic<uint64_t> fetches_{0};
  std::atomic<uint64_t> loaded_count_{0};
};

}  // namespace densevm::snapshot
