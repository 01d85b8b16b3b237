#include "cow-snapshots/snapshot_image.h"

#include <algorithm>
#include <cstring>

#include "mmu/guest_memory.h"

namespace densevm::snapshot {

SnapshotImage::SnapshotImage(std::vector<Snapshot> chain, FrameStore& frames, bool shared)
    : chain_(std::move(chain)), frames_(frames), shared_(shared) {
  if (chain_.empty()) throw SnapshotError("no snapshot to restore");
  slots_.assign(top().config.mem_bytes >> kPageShift, kNone);
  uint64_t stored = 0;
  for (const Snapshot& s : chain_) {
    const auto base = static_cast<uint32_t>(stored);
    first_.push_back(stored);
    stored += s.stored_pages();
    if (stored >= kNone) throw SnapshotError("snapshot chain holds too many pages");
    for (uint64_t i = 0; i < s.page_count; ++i) {
      const IndexEntry ref = s.page(i);
      const uint64_t index = index_of(Gpa{ref.gpa});
      if (index >= slots_.size()) throw SnapshotError("snapshot has a page outside guest RAM");
      slots_[index] = ref.stored == kDroppedPage ? kNone : base + ref.stored;
    }
  }
  for (const uint32_t slot : slots_) pages_ += slot != kNone;
  if (shared_) {
    loaded_ = std::make_unique<std::atomic<uint64_t>[]>(stored);
    for (size_t i = 0; i < stored; ++i) loaded_[i].store(0, std::memory_order_relaxed);
  }
}

size_t SnapshotImage::owner_of(uint32_t s) const {
  const auto it = std::upper_bound(first_.begin(), first_.end(), uint64_t{s});
  return static_cast<size_t>(it - first_.begin()) - 1;
}

const uint8_t* SnapshotImage::data_of(uint32_t s) const {
  const size_t k = owner_of(s);
  return chain_[k].stored_page(static_cast<uint32_t>(s - first_[k]));
}

uint64_t SnapshotImage::hash_of(uint32_t s) const {
  const size_t k = owner_of(s);
  return chain_[k].page_hash(static_cast<uint32_t>(s - first_[k]));
}

SnapshotImage::~SnapshotImage() {
  if (!shared_) return;
  const uint64_t stored = first_.back() + chain_.back().stored_pages();
  for (size_t i = 0; i < stored; ++i) {
    const uint64_t hpa = loaded_[i].load(std::memory_order_relaxed);
    if (hpa != 0) frames_.release(Hpa{hpa});
  }
}

uint64_t SnapshotImage::index_of(Gpa page) const {
  return GuestMemory::ram_page_index(top().config.mem_bytes, page);
}

Gpa SnapshotImage::gpa_of(uint64_t index) const { return GuestMemory::ram_page_gpa(top().config.mem_bytes, index); }

const uint8_t* SnapshotImage::content(Gpa page) const {
  const uint64_t index = index_of(page.page_base());
  if (index >= slots_.size() || slots_[index] == kNone) return nullptr;
  return data_of(slots_[index]);
}

void SnapshotImage::for_each_page(const std::function<void(Gpa, const uint8_t*)>& visit) const {
  for (uint64_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i] != kNone) visit(gpa_of(i), data_of(slots_[i]));
  }
}

void SnapshotImage::for_each_held_page(const std::function<void(Gpa)>& visit) const {
  for (uint64_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i] != kNone) visit(gpa_of(i));
  }
}

std::optional<Hpa> SnapshotImage::load(uint32_t s, Fetch* failure) {
  const std::optional<Hpa> frame = frames_.allocate(pool_);
  if (!frame) {
    *failure = Fetch::kOutOfFrames;
    return std::nullopt;
  }
  uint8_t* dst = frames_.host_ptr(*frame);
  std::memcpy(dst, data_of(s), kPageSize);
  // Checked in the frame, after the copy: the file cannot change under the check.
  if (!page_intact(dst, hash_of(s))) {
    frames_.release(*frame);
    *failure = Fetch::kCorrupt;
    return std::nullopt;
  }
  return frame;
}

PageSource::Fetch SnapshotImage::fetch(Gpa page, Hpa* hpa) {
  const uint64_t index = index_of(page);
  if (index >= slots_.size() || slots_[index] == kNone) return Fetch::kAbsent;
  const uint32_t s = slots_[index];
  fetches_.fetch_add(1, std::memory_order_relaxed);
  Fetch failure = Fetch::kCorrupt;
  if (!shared_) {
    const std::optional<Hpa> frame = load(s, &failure);
    if (!frame) return failure;
    loaded_count_.fetch_add(1, std::memory_order_relaxed);
    *hpa = *frame;
    return Fetch::kPrivate;
  }
  uint64_t have = loaded_[s].load(std::memory_order_acquire);
  if (have == 0) {
    const std::optional<Hpa> frame = load(s, &failure);
    if (!frame) return failure;
    // Two VMs may load the same page at once: the first to publish wins.
    if (loaded_[s].compare_exchange_strong(have, frame->value(), std::memory_order_acq_rel)) {
      have = frame->value();
      loaded_count_.fetch_add(1, std::memory_order_relaxed);
    } else {
      frames_.release(*frame);
    }
  }
  frames_.retain(Hpa{have});
  *hpa = Hpa{have};
  return Fetch::kShared;
}

}  // namespace densevm::snapshot
