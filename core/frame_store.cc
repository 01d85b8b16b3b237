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

FrameStore::FrameStore(uint64_t capacity_bytes) : capacity_frames_(capacity_bytes >> kPageShift) {
  if (capacity_frames_ < 2 || capacity_frames_ > uint64_t{UINT32_MAX}) {
    throw std::invalid_argument("FrameStore capacity must be between 8 KiB and 16 TiB");
  }
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

std::optional<Hpa> FrameStore::allocate() {
  FrameIndex index = 0;
  bool dirty = false;
  {
    std::lock_guard lock(mutex_);
    if (!pending_.empty()) {
      // Still resident: zeroing it is cheaper than giving it back and faulting in another.
      index = pending_.back();
      pending_.pop_back();
      pending_count_.fetch_sub(1, std::memory_order_relaxed);
      dirty = true;
    } else if (!clean_.empty()) {
      index = clean_.back();
      clean_.pop_back();
    } else if (next_unused_ < capacity_frames_) {
      index = static_cast<FrameIndex>(next_unused_++);
    } else {
      exhausted_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
  }
  const Hpa hpa = Hpa::from_page(index);
  if (dirty) std::memset(host_ptr(hpa), 0, kPageSize);
  refcounts_[index].store(1, std::memory_order_release);
  resident_.fetch_add(1, std::memory_order_relaxed);
  allocations_.fetch_add(1, std::memory_order_relaxed);
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
  std::lock_guard lock(mutex_);
  pending_.push_back(index);
  pending_count_.fetch_add(1, std::memory_order_relaxed);
  if (pending_.size() >= kReleaseBatchFrames) give_back_locked();
}

void FrameStore::flush_released() {
  std::lock_guard lock(mutex_);
  give_back_locked();
}

// Sorting the batch turns frames freed together (a balloon inflation, a VM teardown) into
// a few long runs, so one madvise call covers many frames.
void FrameStore::give_back_locked() {
  if (pending_.empty()) return;
  std::sort(pending_.begin(), pending_.end());
  size_t run_start = 0;
  for (size_t i = 1; i <= pending_.size(); ++i) {
    if (i < pending_.size() && pending_[i] == pending_[i - 1] + 1) continue;
    uint8_t* start = host_ptr(Hpa::from_page(pending_[run_start]));
    const size_t bytes = (i - run_start) * kPageSize;
    // Frames on the clean list must read as zero; if the kernel refuses, zero them by hand.
    if (madvise(start, bytes, MADV_DONTNEED) != 0) std::memset(start, 0, bytes);
    madvise_calls_.fetch_add(1, std::memory_order_relaxed);
    run_start = i;
  }
  returned_.fetch_add(pending_.size(), std::memory_order_relaxed);
  pending_count_.fetch_sub(pending_.size(), std::memory_order_relaxed);
  clean_.insert(clean_.end(), pending_.begin(), pending_.end());
  pending_.clear();
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
