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
//
// Huge frames: a requester that wants its first touches backed by 2 MiB transparent huge
// pages (a VM that neither shares nor balloons) allocates through a HugeCursor. The cursor
// owns one 2 MiB-aligned chunk of its pool at a time (MADV_HUGEPAGE, carved from the top of
// the pool downwards while 4 KiB frames grow from the bottom, so each side stays one VMA) and
// hands out its frames in order, so the guest's consecutive first touches fill one huge page
// and fault once per 2 MiB. Frames are still 4 KiB to everyone else: refcounts, sharing and
// release work per frame. A chunk whose frames are all released goes back whole (one
// MADV_DONTNEED of 2 MiB); a frame released from a chunk that stays in use (balloon, merge)
// splits the chunk at the next give-back (MADV_NOHUGEPAGE so khugepaged leaves it alone,
// MADV_COLD, which splits the huge page for real, then MADV_DONTNEED), so its memory goes
// back at once, as with 4 KiB frames, instead of waiting in the kernel's deferred split.
//
//   FrameStore::HugeCursor cursor{.pool = 0};
//   std::optional<Hpa> big = frames.allocate(cursor);  // from the cursor's 2 MiB chunk
//   frames.close(cursor);                              // the requester is gone
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
  // Huge frames (HugeCursor): chunks opened by cursors, frames handed out from them,
  // chunks given back whole, chunks split to give back single frames, cursor requests
  // served by a 4 KiB frame because the pool had no chunk left.
  uint64_t huge_chunks = 0;
  uint64_t huge_frames = 0;
  uint64_t huge_chunks_freed = 0;
  uint64_t huge_chunks_split = 0;
  uint64_t huge_fallbacks = 0;
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
  // A huge-frame chunk: one x86-64 2 MiB page.
  static constexpr uint64_t kChunkFrames = 512;

  // One requester's place in its current chunk (see the top). Chunk 0 holds frame 0 and is
  // never a huge chunk, so 0 means none.
  struct HugeCursor {
    uint32_t pool = 0;
    uint32_t chunk = 0;
  };

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
  // A zeroed frame from the cursor's chunk (a new chunk of its pool when that one is used
  // up), or when the pool has no chunk left the same as allocate(cursor.pool), counted in
  // huge_fallbacks. Thread-safe; one cursor is used by one thread at a time.
  [[nodiscard]] std::optional<Hpa> allocate(HugeCursor& cursor);
  // The cursor's requester is gone: its chunk's unused frames may go to another cursor,
  // and the chunk goes back whole once its frames are all released.
  void close(HugeCursor& cursor);
  // Reference counting; thread-safe. Retaining a free frame or releasing one whose count is
  // already zero is a VMM bug and aborts.
  void retain(Hpa hpa);
  void release(Hpa hpa);
  // Gives every pending released frame back to the kernel now (a huge chunk still in use is
  // split for it; a batch given back on the way leaves such frames pending for reuse).
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
    size_t next_batch = kReleaseBatchFrames;  // give back when pending reaches this many
    std::vector<FrameIndex> clean;    // given back to the kernel: reads as zero
    uint64_t next_unused = 0;         // 4 KiB frames: [next_unused, huge_floor) never handed out
    uint64_t huge_floor = 0;          // huge chunks are [huge_floor, huge_top), carved downwards
    uint64_t huge_top = 0;            // chunk-aligned end of the pool
    uint64_t lowest_chunk = 0;        // first chunk-aligned frame of the pool that can be a chunk
    uint64_t tail_next = 0;           // 4 KiB frames [tail_next, end): past the last whole chunk
    std::vector<uint32_t> free_chunks;  // given back whole: read as zero, may be reopened
    std::vector<uint32_t> partial;      // closed with unused frames: another cursor may take them
    std::atomic<uint64_t> resident{0};
    std::atomic<uint64_t> allocations{0};
    std::atomic<uint64_t> fallbacks{0};
  };

  // A chunk's state, guarded by its pool's mutex (a huge chunk lies within one pool).
  enum ChunkState : uint8_t { kNotHuge = 0, kHuge, kFreeChunk, kSplit };
  struct Chunk {
    uint16_t live = 0;  // frames of a kHuge chunk with refcount > 0
    uint16_t bump = 0;  // frames [0, bump) have been handed out by a cursor
    ChunkState state = kNotHuge;
    uint8_t owned = 0;  // a cursor hands out its frames
  };
  static_assert(sizeof(Chunk) == 6);

  void map_region();
  [[nodiscard]] std::optional<FrameIndex> take(Pool& pool, bool& dirty);
  [[nodiscard]] Hpa hand_out(FrameIndex index, bool dirty, Pool& from);
  [[nodiscard]] bool open_chunk_locked(Pool& pool, uint32_t& chunk);
  void disown_locked(Pool& pool, uint32_t chunk);
  void give_back_chunk_locked(Pool& pool, uint32_t chunk, const FrameIndex* released, size_t count);
  [[nodiscard]] Pool& pool_of_index(FrameIndex index) const;
  [[nodiscard]] FrameIndex checked_index(Hpa hpa, const char* op) const;
  void give_back_locked(Pool& pool, bool split);

  uint8_t* base_ = nullptr;  // 2 MiB-aligned, inside the mapping [mapping_, mapping_ + mapping_bytes_)
  void* mapping_ = nullptr;
  uint64_t mapping_bytes_ = 0;
  uint64_t capacity_frames_ = 0;
  std::atomic<uint32_t>* refcounts_ = nullptr;  // MAP_NORESERVE, one per frame
  Chunk* chunks_ = nullptr;                      // MAP_NORESERVE, one per 2 MiB of the region
  std::vector<std::unique_ptr<Pool>> pools_;

  std::atomic<uint64_t> resident_{0};
  std::atomic<uint64_t> shared_{0};
  std::atomic<uint64_t> pending_count_{0};
  std::atomic<uint64_t> allocations_{0};
  std::atomic<uint64_t> releases_{0};
  std::atomic<uint64_t> returned_{0};
  std::atomic<uint64_t> madvise_calls_{0};
  std::atomic<uint64_t> exhausted_{0};
  std::atomic<uint64_t> huge_chunks_{0};
  std::atomic<uint64_t> huge_frames_{0};
  std::atomic<uint64_t> huge_chunks_freed_{0};
  std::atomic<uint64_t> huge_chunks_split_{0};
  std::atomic<uint64_t> huge_fallbacks_{0};
};

}  // namespace densevm
