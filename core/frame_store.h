// FrameStore: the host memory of every guest, as 4 KiB frames with reference counts.
//
// One large MAP_NORESERVE region is reserved up front; a frame's Hpa is its index times
// 4 KiB, and its host pointer is base + Hpa, so translating is one add. Frames are shared by
// reference count (dedup, copy-on-write); a frame whose count drops to zero is returned to
// the kernel with madvise(MADV_DONTNEED) in coalesced batches, which is what makes RSS fall
// when a guest balloons or a page is merged. allocate() always hands out zeroed frames.
//
// The region may be cut into pools, one after another (NUMA: one per host node, each bound to
// its node by numa/, which alone knows what a node is): allocate(pool) takes a frame from that
// pool, or when it is full from the next one in its fall-back order, counted; pool_of(hpa)
// says which pool a frame is in. One pool is the store as it always was.
//
//   FrameStore frames(uint64_t{1} << 30);
//   std::optional<Hpa> hpa = frames.allocate();   // zeroed, refcount 1
//   frames.host_ptr(*hpa)[0] = 42; frames.release(*hpa);
//   FrameStore by_node({{.capacity_bytes = 1 << 30, .fallback = {1}}, {.capacity_bytes = 1 << 30, .fallback = {0}}});
//   std::optional<Hpa> near = by_node.allocate(1);  // from pool 1 while it has room
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/types.h"

namespace densevm {

struct FrameStoreStats {
  uint64_t capacity_frames = 0;  // frames the region holds (frame 0 is never handed out)
  uint64_t frames_resident = 0;  // refcount > 0
  uint64_t frames_shared = 0;    // refcount > 1
  uint64_t frames_pending = 0;   // refcount 0, not yet given back to the kernel
  uint64_t frames_free = 0;      // never used or already given back: zero without work
  uint64_t allocations = 0;      // successful allocate() calls
  uint64_t releases = 0;         // frames whose refcount reached zero
  uint64_t frames_returned = 0;  // frames given back with MADV_DONTNEED
  uint64_t madvise_calls = 0;    // one per coalesced run of contiguous frames
  uint64_t exhausted = 0;        // allocate() calls that found no frame
};

// One pool: its share of the region and where its requests go when it is full.
struct FramePoolSpec {
  uint64_t capacity_bytes = 0;   // rounded down to 4 KiB
  std::vector<uint32_t> fallback;  // other pools to try, in order (nearest first)
};

struct FramePoolStats {
  uint64_t capacity_frames = 0;
  uint64_t frames_resident = 0;  // refcount > 0, in this pool
  uint64_t allocations = 0;      // frames this pool handed out (own requests and others')
  uint64_t fallbacks = 0;        // requests for this pool served by another: it was full
};

class FrameStore {
 public:
  static constexpr uint64_t kDefaultCapacityBytes = uint64_t{64} << 30;
  // Released frames are given back to the kernel in batches of this many.
  static constexpr size_t kReleaseBatchFrames = 512;

  // Reserves address space for capacity_bytes (rounded down to 4 KiB); nothing is resident
  // until touched. Throws std::invalid_argument or std::system_error (construction is an edge).
  explicit FrameStore(uint64_t capacity_bytes = kDefaultCapacityBytes);
  // Pools laid out in order (pool 0 first; frame 0 is pool 0's and never handed out).
  explicit FrameStore(const std::vector<FramePoolSpec>& pools);
  ~FrameStore();
  FrameStore(const FrameStore&) = delete;
  FrameStore& operator=(const FrameStore&) = delete;

  // A zeroed frame with refcount 1, or nullopt when every frame is in use. Thread-safe.
  [[nodiscard]] std::optional<Hpa> allocate() { return allocate(0); }
  // The same from `pool`, or when it is full from its fall-back pools (counted in the pool's
  // fallbacks). pool must be < pools().
  [[nodiscard]] std::optional<Hpa> allocate(uint32_t pool);
  // Reference counting; thread-safe. Retaining a free frame or releasing one whose count is
  // already zero is a VMM bug and aborts.
  void retain(Hpa hpa);
  void release(Hpa hpa);
  // Gives every pending released frame back to the kernel now.
  void flush_released();

  // The hot path: where frame hpa lives in this process. hpa must be contains().
  [[nodiscard]] uint8_t* host_ptr(Hpa hpa) const { return base_ + hpa.value(); }
  // The frame holding p; p must be owns().
  [[nodiscard]] Hpa hpa_of(const void* p) const {
    return Hpa(static_cast<uint64_t>(static_cast<const uint8_t*>(p) - base_)).page_base();
  }
  [[nodiscard]] bool owns(const void* p) const {
    const auto* b = static_cast<const uint8_t*>(p);
    return b >= base_ && b < base_ + capacity_frames_ * kPageSize;
  }
  // hpa is a page-aligned frame address that allocate() can hand out (not frame 0).
  [[nodiscard]] bool contains(Hpa hpa) const {
    return hpa.page_offset() == 0 && hpa.page_number() != 0 &&
           hpa.page_number() < capacity_frames_;
  }
  // 0 for free frames and for addresses outside the store.
  [[nodiscard]] uint32_t refcount(Hpa hpa) const;

  [[nodiscard]] uint64_t capacity_frames() const { return capacity_frames_; }
  [[nodiscard]] FrameStoreStats stats() const;

  [[nodiscard]] uint32_t pools() const { return static_cast<uint32_t>(pools_.size()); }
  // The pool frame hpa belongs to; hpa must be contains().
  [[nodiscard]] uint32_t pool_of(Hpa hpa) const;
  // The pool's part of the region (what numa/ binds to a node) and its counters.
  [[nodiscard]] uint8_t* pool_base(uint32_t pool) const;
  [[nodiscard]] uint64_t pool_bytes(uint32_t pool) const;
  [[nodiscard]] FramePoolStats pool_stats(uint32_t pool) const;

 private:
  using FrameIndex = uint32_t;

  struct Pool {
    uint64_t first = 0;  // frame indices [first, end)
    uint64_t end = 0;
    std::vector<uint32_t> fallback;
    std::mutex mutex;
    std::vector<FrameIndex> pending;  // refcount 0, still resident: zero before reuse
    std::vector<FrameIndex> clean;    // given back to the kernel: reads as zero
    uint64_t next_unused = 0;         // frames at or above this were never handed out
    std::atomic<uint64_t> resident{0};
    std::atomic<uint64_t> allocations{0};
    std::atomic<uint64_t> fallbacks{0};
  };

  void map_region();
  [[nodiscard]] std::optional<FrameIndex> take(Pool& pool, bool& dirty);
  [[nodiscard]] Pool& pool_of_index(FrameIndex index) const;
  [[nodiscard]] FrameIndex checked_index(Hpa hpa, const char* op) const;
  void give_back_locked(Pool& pool);

  uint8_t* base_ = nullptr;
  uint64_t capacity_frames_ = 0;
  std::atomic<uint32_t>* refcounts_ = nullptr;  // MAP_NORESERVE, one per frame
  std::vector<std::unique_ptr<Pool>> pools_;

  std::atomic<uint64_t> resident_{0};
  std::atomic<uint64_t> shared_{0};
  std::atomic<uint64_t> pending_count_{0};
  std::atomic<uint64_t> allocations_{0};
  std::atomic<uint64_t> releases_{0};
  std::atomic<uint64_t> returned_{0};
  std::atomic<uint64_t> madvise_calls_{0};
  std::atomic<uint64_t> exhausted_{0};
};

}  // namespace densevm
