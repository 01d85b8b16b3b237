// DecodeCache: decoded instructions kept per guest-physical code page.
//
// Zydis decodes about 6 M instructions/s here, so each instruction is decoded once and its
// DecodedInsn reused until a guest write to the page (caught by write-tracking) marks the
// page stale. A stale page keeps its records alive until the run loop next enters it, so a
// handler that modifies its own page never sees its record freed under it.
//
//   DecodedPage* p = cache.get(gpa_page);   // creates, or revives a stale page
//   DecodedInsn* d = p->slot(offset);       // nullptr until decoded
//   cache.invalidate(gpa_page);             // after a write to the page
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "vmm/cpu/decoded_insn.h"

namespace densevm::cpu {

class DecodedPage {
 public:
  static constexpr unsigned kPageBytes = 4096;

  [[nodiscard]] const DecodedInsn* slot(unsigned offset) const { return slots_[offset]; }
  [[nodiscard]] bool stale() const { return stale_; }
  // Stores a copy of `insn` for `offset` and returns the cached record.
  const DecodedInsn* insert(unsigned offset, const DecodedInsn& insn);

 private:
  friend class DecodeCache;
  static constexpr unsigned kChunk = 64;

  [[nodiscard]] uint64_t bytes() const;

  void reset();

  bool stale_ = false;
  std::unique_ptr<const DecodedInsn*[]> slots_ = std::make_unique<const DecodedInsn*[]>(kPageBytes);
  std::vector<std::unique_ptr<DecodedInsn[]>> chunks_;
  unsigned used_in_last_ = kChunk;
};

class DecodeCache {
 public:
  // The page for a guest-physical page number; a stale page is emptied and reused.
  DecodedPage* get(uint64_t gpa_page);
  // Marks the page stale if it is cached. Returns whether it was.
  bool invalidate(uint64_t gpa_page);
  void clear();
  [[nodiscard]] size_t pages() const { return pages_.size(); }
  // Host memory the cache holds: per page its slot table (a pointer per byte offset, 32 KiB),
  // its chunks of records and its map node; what `--stats` reports as `vmm.decode_cache_bytes`.
  [[nodiscard]] uint64_t bytes() const;

 private:
  std::unordered_map<uint64_t, std::unique_ptr<DecodedPage>> pages_;
  uint64_t last_gpa_page_ = ~uint64_t{0};
  DecodedPage* last_ = nullptr;
};

}  // namespace densevm::cpu
