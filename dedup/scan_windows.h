// ScanWindows: what the dedup scanner knows of each 2 MiB window (one P2M leaf table) of a
// guest memory between two visits, so that a window nothing touched is passed over without
// reading its 512 leaves.
//
// A window may be skipped when the P2M says none of its leaves changed since the scanner's
// last walk of it (GuestMemory::take_window_changed) and that walk left nothing to do next
// time (`walk` false): every private page in it was hashed, stable and left as a merge
// candidate the scanner keeps an index of. The pages the walk found mapped are kept (a bit
// each), so a skipped window still counts its pages against the scan's budget and the pass
// advances exactly as if it had been walked. 72 bytes a window (36 KiB a GiB) plus the
// hashes of the candidates parked in it.
//
//   ScanWindows windows(memory);
//   ScanWindows::Window& w = windows.at(gpa);
//   if (!w.walk && !memory.take_window_changed(gpa)) { /* skip: w.mapped says what is there */ }
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/types.h"
#include "mmu/guest_memory.h"

namespace densevm {

class ScanWindows {
 public:
  static constexpr uint64_t kWindowBytes = uint64_t{2} << 20;
  static constexpr uint64_t kPagesPerWindow = kWindowBytes >> kPageShift;

  struct Window {
    std::array<uint64_t, kPagesPerWindow / 64> mapped{};  // bit per page, as last walked
    bool walk = true;              // walk at the next visit, changed or not
    std::vector<uint64_t> parked;  // fingerprints of candidates parked here (may be stale)
  };

  explicit ScanWindows(const GuestMemory& memory);

  // The window holding gpa, which must be RAM.
  [[nodiscard]] Window& at(Gpa gpa);
  // Every window is walked at its next visit (after a restore, a new keeper).
  void walk_all();

  // Page index of gpa within its window.
  [[nodiscard]] static unsigned page_in_window(Gpa gpa) {
    return static_cast<unsigned>((gpa.value() >> kPageShift) % kPagesPerWindow);
  }
  // The pages of [from, to) (indices within the window) `mapped` says are there, at most
  // `want`; *last is set to the index of the last one counted (untouched if none).
  [[nodiscard]] static uint64_t count_mapped(const Window& w, unsigned from, unsigned to,
                                             uint64_t want, unsigned* last);
  static void set_mapped(Window& w, unsigned page);
  // Clears the bits of [from, to).
  static void clear_mapped(Window& w, unsigned from, unsigned to);

 private:
  struct Span {
    uint64_t first_window;  // gpa / kWindowBytes of the range's first window
    uint64_t windows;
    size_t slot;            // index of that window in windows_
  };
  std::vector<Span> spans_;  // one per RAM range
  std::vector<Window> windows_;
};

}  // namespace densevm
