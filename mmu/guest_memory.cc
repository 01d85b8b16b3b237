#include "mmu/guest_memory.h"

#include <algorithm>
#include <cstring>

namespace densevm {

GuestMemory::GuestMemory(FrameStore& frames, uint64_t ram_bytes, uint32_t pool, bool huge_frames)
    : frames_(frames),
      p2m_(frames, pool),
      ram_bytes_(ram_bytes & ~kPageMask),
      pool_(pool),
      huge_frames_(huge_frames),
      cursor_{.pool = pool, .chunk = 0} {
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

uint64_t GuestMemory::ram_page_index(uint64_t ram_bytes, Gpa page) {
  const uint64_t low = std::min(ram_bytes, kLowRamLimit);
  const uint64_t g = page.value();
  if (g < low) return g >> kPageShift;
  if (g >= kHighRamBase && g - kHighRamBase < ram_bytes - low) return (low + g - kHighRamBase) >> kPageShift;
  return ram_bytes >> kPageShift;
}

Gpa GuestMemory::ram_page_gpa(uint64_t ram_bytes, uint64_t index) {
  const uint64_t low = std::min(ram_bytes, kLowRamLimit);
  const uint64_t off = index << kPageShift;
  return Gpa{off < low ? off : kHighRamBase + (off - low)};
}

void GuestMemory::set_source(std::shared_ptr<PageSource> source) {
  source_ = std::move(source);
  discarded_ = ZeroedArray<uint64_t>(source_ ? ((ram_bytes_ >> kPageShift) + 63) / 64 : 0);
}

bool GuestMemory::discarded_from_source(Gpa gpa) const {
  if (!source_ || !is_ram(gpa)) return false;
  const uint64_t i = ram_index(gpa.page_base());
  return (discarded_[i / 64] >> (i % 64)) & 1;
}

bool GuestMemory::discard(Gpa gpa) {
  const Gpa page = gpa.page_base();
  if (source_ && is_ram(page)) {
    const uint64_t i = ram_index(page);
    discarded_[i / 64] |= uint64_t{1} << (i % 64);
  }
  return p2m_.unmap(page).has_value();
}

bool GuestMemory::map_from_source(Gpa page, Populate& result) {
  if (discarded_from_source(page)) return false;
  Hpa hpa;
  const PageSource::Fetch f = source_->fetch(page, &hpa);
  switch (f) {
    case PageSource::Fetch::kAbsent:
      return false;
    case PageSource::Fetch::kCorrupt:
      result = Populate::kSourceCorrupt;
      return true;
    case PageSource::Fetch::kOutOfFrames:
      result = Populate::kOutOfMemory;
      return true;
    case PageSource::Fetch::kShared:
    case PageSource::Fetch::kPrivate:
      break;
  }
  // A shared frame is mapped read-only: the first write copies it (break_cow).
  const EptPerms perms = f == PageSource::Fetch::kShared ? (kEptRead | kEptExec) : kEptRwx;
  if (p2m_.map(page, hpa, perms) != P2mStatus::kOk) {
    frames_.release(hpa);
    result = Populate::kOutOfMemory;
    return true;
  }
  p2m_.mark_dirty(page);
  result = Populate::kMapped;
  return true;
}

bool GuestMemory::private_and_writable(Gpa page, Hpa frame, EptPerms perms) const {
  uint32_t holders = frames_.refcount(frame);
  if (const P2mKeeper* keeper = p2m_.keeper()) {
    const std::optional<EptEntry> then = keeper->kept(page);
    if (then && then->frame() == frame) {
      perms = then->perms();
      --holders;
    }
  }
  return (perms & kEptWrite) != 0 && holders == 1;
}

uint64_t GuestMemory::drop_all() {
  uint64_t dropped = 0;
  for (const Range& r : ranges_) {
    for (uint64_t off = 0; off < r.size; off += kPageSize) dropped += p2m_.unmap(r.begin + off).has_value();
  }
  return dropped;
}

void GuestMemory::write_protect_all() {
  // One entry per 512 GiB of guest-physical space holding RAM; an entry with no table below
  // has no page to protect (pages mapped there later are new: the keeper sees them).
  constexpr uint64_t kTop = P2m::Walker::span(EptEntry::kLevels);
  uint64_t next = 0;  // first top-level span not restricted yet
  for (const Range& r : ranges_) {
    for (uint64_t top = std::max(next, r.begin.value() & ~(kTop - 1)); top < r.begin.value() + r.size; top += kTop) {
      (void)p2m_.restrict_subtree(Gpa{top}, EptEntry::kLevels, kEptRx);
      next = top + kTop;
    }
  }
}

GuestMemory::Populate GuestMemory::materialize() {
  if (!source_) return Populate::kMapped;
  Populate failure = Populate::kMapped;
  source_->for_each_held_page([&](Gpa page) {
    if (failure != Populate::kMapped || !is_ram(page) || p2m_.inspect(page)) return;
    Populate result = Populate::kMapped;
    if (map_from_source(page, result) && result != Populate::kMapped) failure = result;
  });
  if (failure != Populate::kMapped) return failure;
  set_source(nullptr);
  return Populate::kMapped;
}

std::optional<Hpa> GuestMemory::new_frame(bool zeroed, bool huge) {
  if (P2mKeeper* keeper = p2m_.keeper()) {
    if (const std::optional<Hpa> spare = keeper->take_spare_frame()) {
      if (zeroed) std::memset(frames_.host_ptr(*spare), 0, kPageSize);
      return spare;
    }
  }
  return huge_frames_ && huge ? frames_.allocate(cursor_) : frames_.allocate(pool_);
}

GuestMemory::Populate GuestMemory::populate(Gpa gpa, bool write) {
  if (!is_ram(gpa)) return Populate::kNotRam;
  if (p2m_.inspect(gpa.page_base())) return Populate::kMapped;
  // Under a checkpoint's restriction the new page is writable at once: it has no contents
  // to keep (the checkpoint notes it through the P2M's keeper, to unmap it on rollback).
  p2m_.push_down(gpa.page_base());
  if (source_) {
    Populate result = Populate::kMapped;
    if (map_from_source(gpa.page_base(), result)) return result;
  }
  const std::optional<Hpa> frame = new_frame(true, write);
  if (!frame) return Populate::kOutOfMemory;
  if (p2m_.map(gpa.page_base(), *frame, kEptRwx) != P2mStatus::kOk) {
    frames_.release(*frame);
    return Populate::kOutOfMemory;
  }
  p2m_.mark_dirty(gpa.page_base());
  return Populate::kMapped;
}

GuestMemory::Populate GuestMemory::break_cow(Gpa gpa) {
  const Gpa page_gpa = gpa.page_base();
  p2m_.push_down(page_gpa);
  const std::optional<P2mLeaf> leaf = p2m_.inspect(page_gpa);
  if (!leaf) return Populate::kNotRam;
  p2m_.before_leaf_write(page_gpa);  // a checkpoint keeping the frame makes it shared
  if (frames_.refcount(leaf->hpa) > 1) {
    const std::optional<Hpa> copy = new_frame(false);
    if (!copy) return Populate::kOutOfMemory;
    std::memcpy(frames_.host_ptr(*copy), frames_.host_ptr(leaf->hpa), kPageSize);
    // map() replaces the shared mapping, releasing this page's reference to it.
    if (p2m_.map(page_gpa, *copy, kEptRwx) != P2mStatus::kOk) {
      frames_.release(*copy);
      return Populate::kOutOfMemory;
    }
    p2m_.mark_dirty(page_gpa);
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
  if (!leaf) return nullptr;
  p2m_.mark_dirty(gpa.page_base());  // the caller writes it: dirty logging must see that
  return frames_.host_ptr(leaf->hpa);
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
    std::optional<P2mLeaf> leaf = p2m_.inspect(gpa.page_base());
    Populate fetched = Populate::kMapped;
    if (!leaf && source_ && map_from_source(gpa.page_base(), fetched)) {
      if (fetched != Populate::kMapped) return false;
      leaf = p2m_.inspect(gpa.page_base());
    }
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
