#include "core/frame_store.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
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
  base_ = static_cast<uint8_t*>(reserve(capacity_frames_ * kPageSize));
  // Guests are shared, ballooned and merged at 4 KiB granularity; a transparent huge page
  // would keep 2 MiB resident for one live frame.
  madvise(base_, capacity_frames_ * kPageSize, MADV_NOHUGEPAGE);
  try {
    refcounts_ = static_cast<std::atomic<uint32_t>*>(
        reserve(capacity_frames_ * sizeof(std::atomic<uint32_t>)));
  } catch (...) {
    munmap(base_, capacity_frames_ * kPageSize);
    throw;
  }
}

FrameStore::~FrameStore() {
  munmap(refcounts_, capacity_frames_ * sizeof(std::atomic<uint32_t>));
  munmap(base_, capacity_frames_ * kPageSize);
}

std::optional<FrameStore::FrameIndex> FrameStore::take(Pool& pool, bool& dirty) {
  std::lock_guard lock(pool.mutex);
  if (!pool.pending.empty()) {
    // Still resident: zeroing it is cheaper than giving it back and faulting in another.
    const FrameIndex index = pool.pending.back();
    pool.pending.pop_back();
    pending_count_.fetch_sub(1, std::memory_order_relaxed);
    dirty = true;
    return index;
  }
  if (!pool.clean.empty()) {
    const FrameIndex index = pool.clean.back();
    pool.clean.pop_back();
    return index;
  }
  if (pool.next_unused < pool.end) return static_cast<FrameIndex>(pool.next_unused++);
  return std::nullopt;
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
  const Hpa hpa = Hpa::from_page(*index);
  if (dirty) std::memset(host_ptr(hpa), 0, kPageSize);
  refcounts_[*index].store(1, std::memory_order_release);
  resident_.fetch_add(1, std::memory_order_relaxed);
  allocations_.fetch_add(1, std::memory_order_relaxed);
  from->resident.fetch_add(1, std::memory_order_relaxed);
  from->allocations.fetch_add(1, std::memory_order_relaxed);
  return hpa;
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
  pool.pending.push_back(index);
  pending_count_.fetch_add(1, std::memory_order_relaxed);
  if (pool.pending.size() >= kReleaseBatchFrames) give_back_locked(pool);
}

void FrameStore::flush_released() {
  for (auto& pool : pools_) {
    std::lock_guard lock(pool->mutex);
    give_back_locked(*pool);
  }
}

// Sorting the batch turns frames freed together (a balloon inflation, a VM teardown) into
// a few long runs, so one madvise call covers many frames.
void FrameStore::give_back_locked(Pool& pool) {
  std::vector<FrameIndex>& pending = pool.pending;
  if (pending.empty()) return;
  std::sort(pending.begin(), pending.end());
  size_t run_start = 0;
  for (size_t i = 1; i <= pending.size(); ++i) {
    if (i < pending.size() && pending[i] == pending[i - 1] + 1) continue;
    uint8_t* start = host_ptr(Hpa::from_page(pending[run_start]));
    const size_t bytes = (i - run_start) * kPageSize;
    // Frames on the clean list must read as zero; if the kernel refuses, zero them by hand.
    if (madvise(start, bytes, MADV_DONTNEED) != 0) std::memset(start, 0, bytes);
    madvise_calls_.fetch_add(1, std::memory_order_relaxed);
    run_start = i;
  }
  returned_.fetch_add(pending.size(), std::memory_order_relaxed);
  pending_count_.fetch_sub(pending.size(), std::memory_order_relaxed);
  pool.clean.insert(pool.clean.end(), pending.begin(), pending.end());
  pending.clear();
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
  return s;
}

}  // namespace densevm
