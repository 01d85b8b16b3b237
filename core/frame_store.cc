#include "core/frame_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace densevm {
namespace {

// The refcount array is fresh anonymous memory: all-zero bytes must read as count 0.
static_assert(std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

[[noreturn]] void die(const char* op, Hpa hpa, const char* why) {
  std::fprintf(stderr, "FrameStore::%s(Hpa 0x%llx): %s\n", op,
               static_cast<unsigned long long>(hpa.value()), why);
  std::abort();
}

constexpr uint64_t kChunkBytes = FrameStore::kChunkFrames * kPageSize;

void* reserve(uint64_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "FrameStore mmap");
  return p;
}

}  // namespace

FrameStore::FrameStore(uint64_t capacity_bytes)
    : FrameStore(std::vector<FramePoolSpec>{{.capacity_bytes = capacity_bytes, .fallback = {}}}) {}

FrameStore::FrameStore(const std::vector<FramePoolSpec>& pools) {
  if (pools.empty()) throw std::invalid_argument("FrameStore needs at least one pool");
  for (const FramePoolSpec& spec : pools) {
    auto pool = std::make_unique<Pool>();
    pool->first = capacity_frames_;
    capacity_frames_ += spec.capacity_bytes >> kPageShift;
    pool->end = capacity_frames_;
    // Frame 0 is never handed out: Hpa 0 means "no frame" to the tables above.
    pool->next_unused = pool->first == 0 ? 1 : pool->first;
    // Whole chunks only, and never chunk 0 (frame 0). Without any, huge_floor = tail_next =
    // end: 4 KiB frames are handed out in order from first to end, chunks or not.
    pool->lowest_chunk = (pool->next_unused + kChunkFrames - 1) / kChunkFrames * kChunkFrames;
    pool->huge_top = pool->end / kChunkFrames * kChunkFrames;
    if (pool->huge_top < pool->lowest_chunk + kChunkFrames) pool->huge_top = pool->end;
    pool->huge_floor = pool->huge_top;
    pool->tail_next = pool->huge_top;
    for (uint32_t other : spec.fallback) {
      if (other >= pools.size()) throw std::invalid_argument("FrameStore fall-back names no pool");
    }
    pool->fallback = spec.fallback;
    pools_.push_back(std::move(pool));
  }
  if (capacity_frames_ < 2 || capacity_frames_ > uint64_t{UINT32_MAX}) {
    throw std::invalid_argument("FrameStore capacity must be between 8 KiB and 16 TiB");
  }
  map_region();
}

void FrameStore::map_region() {
  // 2 MiB-aligned, so that chunk k of the region is one huge page of the host.
  mapping_bytes_ = capacity_frames_ * kPageSize + kChunkBytes;
  mapping_ = reserve(mapping_bytes_);
  const auto at = reinterpret_cast<uintptr_t>(mapping_);
  base_ = static_cast<uint8_t*>(mapping_) + ((kChunkBytes - at % kChunkBytes) % kChunkBytes);
  // Guests are shared, ballooned and merged at 4 KiB granularity; a transparent huge page
  // would keep 2 MiB resident for one live frame. Only huge chunks ask for them.
  madvise(mapping_, mapping_bytes_, MADV_NOHUGEPAGE);
  const uint64_t chunk_count = capacity_frames_ / kChunkFrames + 1;
  try {
    refcounts_ = static_cast<std::atomic<uint32_t>*>(
        reserve(capacity_frames_ * sizeof(std::atomic<uint32_t>)));
    chunks_ = static_cast<Chunk*>(reserve(chunk_count * sizeof(Chunk)));
  } catch (...) {
    if (refcounts_ != nullptr) munmap(refcounts_, capacity_frames_ * sizeof(std::atomic<uint32_t>));
    munmap(mapping_, mapping_bytes_);
    throw;
  }
}

FrameStore::~FrameStore() {
  munmap(chunks_, (capacity_frames_ / kChunkFrames + 1) * sizeof(Chunk));
  munmap(refcounts_, capacity_frames_ * sizeof(std::atomic<uint32_t>));
  munmap(mapping_, mapping_bytes_);
}

std::optional<FrameStore::FrameIndex> FrameStore::take(Pool& pool, bool& dirty) {
  std::lock_guard lock(pool.mutex);
  if (!pool.pending.empty()) {
    // Still resident: zeroing it is cheaper than giving it back and faulting in another.
    const FrameIndex index = pool.pending.back();
    pool.pending.pop_back();
    pending_count_.fetch_sub(1, std::memory_order_relaxed);
    Chunk& chunk = chunks_[index / kChunkFrames];
    if (chunk.state == kHuge) ++chunk.live;
    dirty = true;
    return index;
  }
  if (!pool.clean.empty()) {
    const FrameIndex index = pool.clean.back();
    pool.clean.pop_back();
    return index;
  }
  if (pool.next_unused < pool.huge_floor) return static_cast<FrameIndex>(pool.next_unused++);
  if (pool.tail_next < pool.end) return static_cast<FrameIndex>(pool.tail_next++);
  if (!pool.free_chunks.empty()) {
    // 4 KiB frames have run out and huge chunks lie unused: this one becomes 4 KiB frames.
    const uint32_t c = pool.free_chunks.back();
    pool.free_chunks.pop_back();
    chunks_[c].state = kSplit;
    uint8_t* start = host_ptr(Hpa::from_page(uint64_t{c} * kChunkFrames));
    madvise(start, kChunkBytes, MADV_NOHUGEPAGE);
    for (uint64_t f = kChunkFrames - 1; f > 0; --f) {
      pool.clean.push_back(static_cast<FrameIndex>(uint64_t{c} * kChunkFrames + f));
    }
    return static_cast<FrameIndex>(uint64_t{c} * kChunkFrames);
  }
  return std::nullopt;
}

Hpa FrameStore::hand_out(FrameIndex index, bool dirty, Pool& from) {
  const Hpa hpa = Hpa::from_page(index);
  if (dirty) std::memset(host_ptr(hpa), 0, kPageSize);
  refcounts_[index].store(1, std::memory_order_release);
  resident_.fetch_add(1, std::memory_order_relaxed);
  allocations_.fetch_add(1, std::memory_order_relaxed);
  from.resident.fetch_add(1, std::memory_order_relaxed);
  from.allocations.fetch_add(1, std::memory_order_relaxed);
  return hpa;
}

std::optional<Hpa> FrameStore::allocate(HugeCursor& cursor) {
  Pool& pool = *pools_[cursor.pool];
  std::optional<FrameIndex> index;
  {
    std::lock_guard lock(pool.mutex);
    while (!index) {
      if (cursor.chunk != 0) {
        Chunk& chunk = chunks_[cursor.chunk];
        if (chunk.state == kHuge && chunk.bump < kChunkFrames) {
          // Never handed out since the chunk was opened or given back whole: reads as zero.
          index = static_cast<FrameIndex>(uint64_t{cursor.chunk} * kChunkFrames + chunk.bump++);
          ++chunk.live;
          break;
        }
        disown_locked(pool, cursor.chunk);
        cursor.chunk = 0;
      }
      if (!open_chunk_locked(pool, cursor.chunk)) break;
    }
  }
  if (!index) {
    huge_fallbacks_.fetch_add(1, std::memory_order_relaxed);
    return allocate(cursor.pool);
  }
  huge_frames_.fetch_add(1, std::memory_order_relaxed);
  return hand_out(*index, false, pool);
}

void FrameStore::close(HugeCursor& cursor) {
  if (cursor.chunk == 0) return;
  Pool& pool = *pools_[cursor.pool];
  std::lock_guard lock(pool.mutex);
  disown_locked(pool, cursor.chunk);
  cursor.chunk = 0;
}

// A closed chunk's unused frames go to the next cursor; one never touched is free at once.
// One whose frames are all released already waits in pending for the next give-back.
void FrameStore::disown_locked(Pool& pool, uint32_t c) {
  Chunk& chunk = chunks_[c];
  chunk.owned = 0;
  if (chunk.state != kHuge) return;
  if (chunk.live == 0 && chunk.bump == 0) {
    chunk.state = kFreeChunk;
    pool.free_chunks.push_back(c);
  } else if (chunk.bump < kChunkFrames && chunk.live > 0) {
    pool.partial.push_back(c);
  }
}

bool FrameStore::open_chunk_locked(Pool& pool, uint32_t& c) {
  c = 0;
  while (!pool.partial.empty() && c == 0) {
    const uint32_t candidate = pool.partial.back();
    pool.partial.pop_back();
    const Chunk& chunk = chunks_[candidate];
    if (chunk.state == kHuge && chunk.owned == 0 && chunk.bump < kChunkFrames) c = candidate;
  }
  if (c == 0 && !pool.free_chunks.empty()) {
    c = pool.free_chunks.back();
    pool.free_chunks.pop_back();
    chunks_[c] = {.live = 0, .bump = 0, .state = kHuge, .owned = 0};
  }
  if (c == 0 && pool.huge_floor >= pool.lowest_chunk + kChunkFrames &&
      pool.huge_floor - kChunkFrames >= pool.next_unused) {
    pool.huge_floor -= kChunkFrames;
    c = static_cast<uint32_t>(pool.huge_floor / kChunkFrames);
    chunks_[c] = {.live = 0, .bump = 0, .state = kHuge, .owned = 0};
    // Next to the chunks above it this extends their VMA rather than making a new one.
    madvise(host_ptr(Hpa::from_page(pool.huge_floor)), kChunkBytes, MADV_HUGEPAGE);
  }
  if (c == 0) return false;
  chunks_[c].owned = 1;
  huge_chunks_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

std::optional<Hpa> FrameStore::allocate(uint32_t pool_index) {
  Pool& own = *pools_[pool_index];
  bool dirty = false;
  Pool* from = &own;
  std::optional<FrameIndex> index = take(own, dirty);
  if (!index) {
    for (uint32_t other : own.fallback) {
      from = pools_[other].get();
      if ((index = take(*from, dirty))) break;
    }
    if (!index) {
      exhausted_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    own.fallbacks.fetch_add(1, std::memory_order_relaxed);
  }
  return hand_out(*index, dirty, *from);
}

void FrameStore::retain(Hpa hpa) {
  const FrameIndex index = checked_index(hpa, "retain");
  const uint32_t old = refcounts_[index].fetch_add(1, std::memory_order_relaxed);
  if (old == 0) die("retain", hpa, "frame is free");
  if (old == 1) shared_.fetch_add(1, std::memory_order_relaxed);
}

void FrameStore::release(Hpa hpa) {
  const FrameIndex index = checked_index(hpa, "release");
  const uint32_t old = refcounts_[index].fetch_sub(1, std::memory_order_acq_rel);
  if (old == 0) die("release", hpa, "frame is already free");
  if (old == 2) shared_.fetch_sub(1, std::memory_order_relaxed);
  if (old != 1) return;
  resident_.fetch_sub(1, std::memory_order_relaxed);
  releases_.fetch_add(1, std::memory_order_relaxed);
  Pool& pool = pool_of_index(index);
  pool.resident.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(pool.mutex);
  Chunk& chunk = chunks_[index / kChunkFrames];
  if (chunk.state == kHuge) --chunk.live;
  pool.pending.push_back(index);
  pending_count_.fetch_add(1, std::memory_order_relaxed);
  if (pool.pending.size() >= pool.next_batch) give_back_locked(pool, false);
}

void FrameStore::flush_released() {
  for (auto& pool : pools_) {
    std::lock_guard lock(pool->mutex);
    give_back_locked(*pool, true);
  }
}

// Sorting the batch turns frames freed together (a balloon inflation, a VM teardown) into
// a few long runs, so one madvise call covers many frames. Frames of huge chunks are given
// back a chunk at a time (give_back_chunk_locked); a batch leaves those of chunks still in
// use pending (a VM tearing down frees whole chunks a little later, and a rollback's frames
// are reused), flush_released() (balloon, dedup: memory must go back now) does not.
void FrameStore::give_back_locked(Pool& pool, bool split) {
  std::vector<FrameIndex>& pending = pool.pending;
  std::vector<FrameIndex> kept;
  const size_t count = pending.size();
  std::sort(pending.begin(), pending.end());
  size_t run_start = 0;
  while (run_start < count) {
    const uint32_t c = static_cast<uint32_t>(pending[run_start] / kChunkFrames);
    size_t i = run_start + 1;
    if (chunks_[c].state == kHuge) {
      while (i < count && pending[i] / kChunkFrames == c) ++i;
      if (split || chunks_[c].live == 0) {
        give_back_chunk_locked(pool, c, &pending[run_start], i - run_start);
      } else {
        kept.insert(kept.end(), pending.begin() + static_cast<ptrdiff_t>(run_start),
                    pending.begin() + static_cast<ptrdiff_t>(i));
      }
      run_start = i;
      continue;
    }
    while (i < count && pending[i] == pending[i - 1] + 1 && chunks_[pending[i] / kChunkFrames].state != kHuge) ++i;
    uint8_t* start = host_ptr(Hpa::from_page(pending[run_start]));
    const size_t bytes = (i - run_start) * kPageSize;
    // Frames on the clean list must read as zero; if the kernel refuses, zero them by hand.
    if (madvise(start, bytes, MADV_DONTNEED) != 0) std::memset(start, 0, bytes);
    madvise_calls_.fetch_add(1, std::memory_order_relaxed);
    pool.clean.insert(pool.clean.end(), pending.begin() + static_cast<ptrdiff_t>(run_start),
                      pending.begin() + static_cast<ptrdiff_t>(i));
    run_start = i;
  }
  returned_.fetch_add(count - kept.size(), std::memory_order_relaxed);
  pending_count_.fetch_sub(count - kept.size(), std::memory_order_relaxed);
  pending.swap(kept);
  pool.next_batch = pending.size() + kReleaseBatchFrames;
}

// The released frames of one huge chunk. All of its frames released: the whole 2 MiB goes
// back in one call and the chunk is free (or, still a cursor's, starts over). Otherwise the
// chunk stops being huge: khugepaged must not collapse it again (MADV_NOHUGEPAGE), MADV_COLD
// splits the huge page (a bare MADV_DONTNEED would only split its mapping and leave the 2 MiB
// allocated until the kernel's deferred split runs under memory pressure), and the released
// frames and the never-used rest go back as 4 KiB frames.
void FrameStore::give_back_chunk_locked(Pool& pool, uint32_t c, const FrameIndex* released, size_t count) {
  Chunk& chunk = chunks_[c];
  uint8_t* chunk_start = host_ptr(Hpa::from_page(uint64_t{c} * kChunkFrames));
  madvise_calls_.fetch_add(1, std::memory_order_relaxed);
  if (chunk.live == 0) {
    if (madvise(chunk_start, kChunkBytes, MADV_DONTNEED) != 0) std::memset(chunk_start, 0, kChunkBytes);
    chunk.bump = 0;
    if (chunk.owned == 0) {
      chunk.state = kFreeChunk;
      pool.free_chunks.push_back(c);
    }
    huge_chunks_freed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  madvise(chunk_start, kChunkBytes, MADV_NOHUGEPAGE);
  // Over part of the huge page only: that is what makes the kernel split it. An advice;
  // the DONTNEED below frees the frames either way.
  (void)madvise(host_ptr(Hpa::from_page(released[0])), kPageSize, MADV_COLD);
  for (size_t i = 0; i < count; ++i) {
    uint8_t* frame = host_ptr(Hpa::from_page(released[i]));
    if (madvise(frame, kPageSize, MADV_DONTNEED) != 0) std::memset(frame, 0, kPageSize);
    pool.clean.push_back(released[i]);
  }
  // Frames no cursor handed out yet become ordinary 4 KiB frames, given back too.
  const uint64_t first_unused = uint64_t{c} * kChunkFrames + chunk.bump;
  if (chunk.bump < kChunkFrames) {
    uint8_t* rest = host_ptr(Hpa::from_page(first_unused));
    const size_t bytes = (kChunkFrames - chunk.bump) * kPageSize;
    if (madvise(rest, bytes, MADV_DONTNEED) != 0) std::memset(rest, 0, bytes);
    for (uint64_t f = first_unused; f < uint64_t{c + 1} * kChunkFrames; ++f) {
      pool.clean.push_back(static_cast<FrameIndex>(f));
    }
  }
  chunk.state = kSplit;
  chunk.bump = kChunkFrames;
  chunk.live = 0;
  huge_chunks_split_.fetch_add(1, std::memory_order_relaxed);
}

FrameStore::Pool& FrameStore::pool_of_index(FrameIndex index) const {
  for (const auto& pool : pools_) {
    if (index < pool->end) return *pool;
  }
  return *pools_.back();  // unreachable: checked_index bounds every index
}

uint32_t FrameStore::pool_of(Hpa hpa) const {
  const uint64_t index = hpa.page_number();
  for (uint32_t p = 0; p < pools_.size(); ++p) {
    if (index < pools_[p]->end) return p;
  }
  return pools() - 1;
}

uint8_t* FrameStore::pool_base(uint32_t pool) const {
  return base_ + pools_[pool]->first * kPageSize;
}

uint64_t FrameStore::pool_bytes(uint32_t pool) const {
  return (pools_[pool]->end - pools_[pool]->first) * kPageSize;
}

FramePoolStats FrameStore::pool_stats(uint32_t pool) const {
  const Pool& p = *pools_[pool];
  return {.capacity_frames = p.end - p.first,
          .frames_resident = p.resident.load(std::memory_order_relaxed),
          .allocations = p.allocations.load(std::memory_order_relaxed),
          .fallbacks = p.fallbacks.load(std::memory_order_relaxed)};
}

uint32_t FrameStore::refcount(Hpa hpa) const {
  if (!contains(hpa)) return 0;
  return refcounts_[hpa.page_number()].load(std::memory_order_relaxed);
}

FrameStore::FrameIndex FrameStore::checked_index(Hpa hpa, const char* op) const {
  if (!contains(hpa)) die(op, hpa, "not a frame of this store");
  return static_cast<FrameIndex>(hpa.page_number());
}

FrameStoreStats FrameStore::stats() const {
  FrameStoreStats s;
  s.capacity_frames = capacity_frames_;
  s.frames_resident = resident_.load(std::memory_order_relaxed);
  s.frames_shared = shared_.load(std::memory_order_relaxed);
  s.frames_pending = pending_count_.load(std::memory_order_relaxed);
  const uint64_t usable = capacity_frames_ - 1;
  const uint64_t used = s.frames_resident + s.frames_pending;
  s.frames_free = used < usable ? usable - used : 0;
  s.allocations = allocations_.load(std::memory_order_relaxed);
  s.releases = releases_.load(std::memory_order_relaxed);
  s.frames_returned = returned_.load(std::memory_order_relaxed);
  s.madvise_calls = madvise_calls_.load(std::memory_order_relaxed);
  s.exhausted = exhausted_.load(std::memory_order_relaxed);
  s.huge_chunks = huge_chunks_.load(std::memory_order_relaxed);
  s.huge_frames = huge_frames_.load(std::memory_order_relaxed);
  s.huge_chunks_freed = huge_chunks_freed_.load(std::memory_order_relaxed);
  s.huge_chunks_split = huge_chunks_split_.load(std::memory_order_relaxed);
  s.huge_fallbacks = huge_fallbacks_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace densevm
