#include "cow-snapshots/snapshot_image.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace densevm::snapshot {

SnapshotImage::SnapshotImage(std::vector<Snapshot> chain, FrameStore& frames, bool shared)
    : layout_(std::move(chain)), frames_(frames), shared_(shared) {
  if (shared_) loaded_ = ZeroedArray<std::atomic<uint64_t>>(layout_.stored_pages());
}

SnapshotImage::~SnapshotImage() {
  if (!shared_) return;
  for (size_t i = 0; i < layout_.stored_pages(); ++i) {
    const uint64_t hpa = loaded_[i].load(std::memory_order_relaxed);
    if (hpa != 0) frames_.release(Hpa{hpa});
  }
}

const uint8_t* SnapshotImage::content(Gpa page) const {
  const uint32_t s = layout_.slot(layout_.index_of(page.page_base()));
  return s == ChainPages::kNone ? nullptr : layout_.data(s);
}

void SnapshotImage::for_each_page(const std::function<void(Gpa, const uint8_t*)>& visit) const {
  layout_.for_each_slot([&](uint64_t i, uint32_t s) { visit(layout_.gpa_of(i), layout_.data(s)); });
}

void SnapshotImage::for_each_held_page(const std::function<void(Gpa)>& visit) const {
  layout_.for_each_slot([&](uint64_t i, uint32_t) { visit(layout_.gpa_of(i)); });
}

void SnapshotImage::release_file_pages() const {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (const Snapshot& snap : layout_.chain()) {
    if (snap.page_owner || snap.page_data.empty()) continue;  // not file pages
    // Whole host pages inside the stored pages only: the mapping's other sections stay.
    const auto begin = (reinterpret_cast<uintptr_t>(snap.page_data.data()) + page - 1) & ~(page - 1);
    const auto end = (reinterpret_cast<uintptr_t>(snap.page_data.data()) + snap.page_data.size()) & ~(page - 1);
    // A clean private file mapping: MADV_DONTNEED only unmaps, the file's bytes stay.
    if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }
}

std::optional<Hpa> SnapshotImage::load(uint32_t s, Fetch* failure) {
  const std::optional<Hpa> frame = frames_.allocate(pool_);
  if (!frame) {
    *failure = Fetch::kOutOfFrames;
    return std::nullopt;
  }
  uint8_t* dst = frames_.host_ptr(*frame);
  std::memcpy(dst, layout_.data(s), kPageSize);
  // Checked in the frame, after the copy: the file cannot change under the check.
  if (!page_intact(dst, layout_.hash(s))) {
    frames_.release(*frame);
    *failure = Fetch::kCorrupt;
    return std::nullopt;
  }
  return frame;
}

PageSource::Fetch SnapshotImage::fetch(Gpa page, Hpa* hpa) {
  const uint32_t s = layout_.slot(layout_.index_of(page));
  if (s == ChainPages::kNone) return Fetch::kAbsent;
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
