#include "dedup/scan_windows.h"

#include <bit>
#include <stdexcept>

namespace densevm {

ScanWindows::ScanWindows(const GuestMemory& memory) {
  size_t slot = 0;
  for (const GuestMemory::Range& r : memory.ram_ranges()) {
    const uint64_t first = r.begin.value() / kWindowBytes;
    const uint64_t last = (r.begin.value() + r.size + kWindowBytes - 1) / kWindowBytes;
    spans_.push_back({first, last - first, slot});
    slot += last - first;
  }
  windows_.resize(slot);
}

ScanWindows::Window& ScanWindows::at(Gpa gpa) {
  const uint64_t w = gpa.value() / kWindowBytes;
  for (const Span& s : spans_) {
    if (w >= s.first_window && w < s.first_window + s.windows) return windows_[s.slot + (w - s.first_window)];
  }
  throw std::out_of_range("ScanWindows: not a RAM window");
}

void ScanWindows::walk_all() {
  for (Window& w : windows_) w.walk = true;
}

uint64_t ScanWindows::count_mapped(const Window& w, unsigned from, unsigned to, uint64_t want,
                                   unsigned* last) {
  uint64_t n = 0;
  for (unsigned word = from / 64; word < w.mapped.size() && word * 64 < to && n < want; ++word) {
    uint64_t bits = w.mapped[word];
    if (word == from / 64) bits &= ~uint64_t{0} << (from % 64);
    if (to < (word + 1) * 64) bits &= (uint64_t{1} << (to % 64)) - 1;
    const auto here = static_cast<uint64_t>(std::popcount(bits));
    if (n + here < want) {
      n += here;
      if (bits != 0) *last = word * 64 + 63 - static_cast<unsigned>(std::countl_zero(bits));
      continue;
    }
    for (; n < want; ++n) {  // the want-th set bit of this word
      *last = word * 64 + static_cast<unsigned>(std::countr_zero(bits));
      bits &= bits - 1;
    }
  }
  return n;
}

void ScanWindows::set_mapped(Window& w, unsigned page) { w.mapped[page / 64] |= uint64_t{1} << (page % 64); }

void ScanWindows::clear_mapped(Window& w, unsigned from, unsigned to) {
  for (unsigned word = from / 64; word < w.mapped.size() && word * 64 < to; ++word) {
    uint64_t keep = 0;
    if (word == from / 64) keep |= ~(~uint64_t{0} << (from % 64));  // below from
    if (to < (word + 1) * 64) keep |= ~uint64_t{0} << (to % 64);      // at or above to
    w.mapped[word] &= keep;
  }
}

}  // namespace densevm
