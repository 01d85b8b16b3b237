#include "vmm/guest_memory.h"

#include <algorithm>
#include <cstring>

namespace densevm {

GuestMemory::GuestMemory(FrameStore& frames, uint64_t ram_bytes)
    : frames_(frames), p2m_(frames), ram_bytes_(ram_bytes & ~kPageMask) {
  const uint64_t low = std::min(ram_bytes_, kLowRamLimit);
  ranges_.push_back({Gpa{0}, low});
  if (ram_bytes_ > low) ranges_.push_back({Gpa{kHighRamBase}, ram_bytes_ - low});
}

bool GuestMemory::is_ram(Gpa gpa) const {
  for (const Range& r : ranges_) {
    if (gpa >= r.begin && gpa - r.begin < r.size) return true;
  }
  return false;
}

bool GuestMemory::range_is_ram(Gpa gpa, size_t size) const {
  if (size == 0) return true;
  for (const Range& r : ranges_) {
    if (gpa >= r.begin && gpa - r.begin < r.size) return size <= r.size - (gpa - r.begin);
  }
  return false;
}

GuestMemory::Populate GuestMemory::populate(Gpa gpa) {
  if (!is_ram(gpa)) return Populate::kNotRam;
  if (p2m_.inspect(gpa.page_base())) return Populate::kMapped;
  const std::optional<Hpa> frame = frames_.allocate();
  if (!frame) return Populate::kOutOfMemory;
  if (p2m_.map(gpa.page_base(), *frame, kEptRwx) != P2mStatus::kOk) {
    frames_.release(*frame);
    return Populate::kOutOfMemory;
  }
  if (populate_log_ != nullptr) populate_log_->push_back(gpa.page_base());
  return Populate::kMapped;
}

GuestMemory::Populate GuestMemory::break_cow(Gpa gpa) {
  const Gpa page_gpa = gpa.page_base();
  const std::optional<P2mLeaf> leaf = p2m_.inspect(page_gpa);
  if (!leaf) return Populate::kNotRam;
  if (frames_.refcount(leaf->hpa) > 1) {
    const std::optional<Hpa> copy = frames_.allocate();
    if (!copy) return Populate::kOutOfMemory;
    std::memcpy(frames_.host_ptr(*copy), frames_.host_ptr(leaf->hpa), kPageSize);
    // map() replaces the shared mapping, releasing this page's reference to it.
    if (p2m_.map(page_gpa, *copy, kEptRwx) != P2mStatus::kOk) {
      frames_.release(*copy);
      return Populate::kOutOfMemory;
    }
  } else if (p2m_.protect(page_gpa, page_gpa + kPageSize, kEptRwx) != P2mStatus::kOk) {
    return Populate::kOutOfMemory;
  }
  ++cow_breaks_;
  return Populate::kMapped;
}

uint8_t* GuestMemory::writable_page(Gpa gpa) {
  if (populate(gpa) != Populate::kMapped) return nullptr;
  std::optional<P2mLeaf> leaf = p2m_.inspect(gpa.page_base());
  if (leaf && !(leaf->effective_perms & kEptWrite)) {
    if (break_cow(gpa) != Populate::kMapped) return nullptr;
    leaf = p2m_.inspect(gpa.page_base());
  }
  return leaf ? frames_.host_ptr(leaf->hpa) : nullptr;
}

bool GuestMemory::write(Gpa gpa, const void* data, size_t size) {
  if (!range_is_ram(gpa, size)) return false;
  const auto* src = static_cast<const uint8_t*>(data);
  while (size > 0) {
    uint8_t* p = writable_page(gpa);
    if (p == nullptr) return false;
    const size_t n = std::min<size_t>(size, kPageSize - gpa.page_offset());
    std::memcpy(p + gpa.page_offset(), src, n);
    gpa += n;
    src += n;
    size -= n;
  }
  return true;
}

bool GuestMemory::read(Gpa gpa, void* data, size_t size) {
  if (!range_is_ram(gpa, size)) return false;
  auto* dst = static_cast<uint8_t*>(data);
  while (size > 0) {
    const size_t n = std::min<size_t>(size, kPageSize - gpa.page_offset());
    const std::optional<P2mLeaf> leaf = p2m_.inspect(gpa.page_base());
    if (leaf) {
      std::memcpy(dst, frames_.host_ptr(leaf->hpa) + gpa.page_offset(), n);
    } else {
      std::memset(dst, 0, n);  // never touched: reads as zero without taking a frame
    }
    gpa += n;
    dst += n;
    size -= n;
  }
  return true;
}

}  // namespace densevm
