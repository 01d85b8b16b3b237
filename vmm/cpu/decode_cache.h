// DecodeCache: decoded instructions kept per guest-physical code page, within a bound.
//
// Zydis decodes about 6 M instructions/s here, so each instruction is decoded once and its
// DecodedInsn reused until a guest write to the page (caught by write-tracking) marks the
// page stale. A stale page keeps its records alive until the run loop next enters it, so a
// handler that modifies its own page never sees its record freed under it.
//
// Memory is what was decoded, not what a page could hold: a page keeps a table of record
// pointers for each 64-byte line that has an instruction start (512 bytes) and its records in
// chunks of 32. A booted Linux holds ~1,600 code pages, ~24,000 such lines and ~264,000
// instructions: 24.6 MiB, where a pointer per byte offset of every page took 61.4 MiB
// (BENCHMARKS.md, "The VMM's own memory per VM"). The cache is bounded (max_bytes, 32 MiB by
// default): a guest that runs code at every byte offset of its RAM would otherwise cost the
// host ~200 KiB per page of it.
//
// When a page is entered with the bound passed, every page is dropped at once and counted
// (flushes()), as the translation cache does; get() is the run loop's safe point, where no
// handler runs and no record is held.
//
//   DecodedPage* p = cache.get(gpa_page);   // creates, or revives a stale page
//   DecodedInsn* d = p->slot(offset);       // nullptr until decoded
//   cache.invalidate(gpa_page);             // after a write to the page
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "vmm/cpu/decoded_insn.h"

namespace densevm::cpu {

class DecodedPage {
 public:
  static constexpr unsigned kPageBytes = 4096;

  explicit DecodedPage(uint64_t& held);
  ~DecodedPage();
  DecodedPage(const DecodedPage&) = delete;
  DecodedPage& operator=(const DecodedPage&) = delete;

  [[nodiscard]] const DecodedInsn* slot(unsigned offset) const {
    const Line* line = lines_[offset / kLineBytes].get();
    return line == nullptr ? nullptr : line->record[offset % kLineBytes];
  }
  [[nodiscard]] bool stale() const { return stale_; }
  // Stores a copy of `insn` for `offset` and returns the cached record.
  const DecodedInsn* insert(unsigned offset, const DecodedInsn& insn);
  // Host memory this page holds.
  [[nodiscard]] uint64_t bytes() const { return bytes_; }

 private:
  friend class DecodeCache;
  static constexpr unsigned kLineBytes = 64;
  // The records of the instructions starting in one line. Pointers, not 2-byte record
  // numbers: the interpreter looks one up per instruction, and numbers (a load more on that
  // chain) made it 45-58% slower on tight loops; they would have saved 9 MiB on a Linux boot.
  struct Line {
    std::array<DecodedInsn*, kLineBytes> record{};
  };
  // Records in chunks of 32 (a page has 165 on average in a booted Linux; chunks that
  // doubled in size left a third of them unused).
  static constexpr unsigned kChunk = 32;
  [[nodiscard]] DecodedInsn* record(unsigned i) const { return &chunks_[i / kChunk][i % kChunk]; }

  void add_bytes(uint64_t n);
  // Empties the page, keeping its lines and chunks for the decodes to come.
  void reset();

  uint64_t& held_;  // the cache's total
  uint64_t bytes_ = 0;
  bool stale_ = false;
  unsigned records_ = 0;  // records in use, numbered 0..records_-1
  std::array<std::unique_ptr<Line>, kPageBytes / kLineBytes> lines_{};
  std::vector<std::unique_ptr<DecodedInsn[]>> chunks_;
};

class DecodeCache {
 public:
  static constexpr uint64_t kDefaultMaxBytes = uint64_t{32} << 20;

  explicit DecodeCache(uint64_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}
  // Pages count their bytes into held_: the cache stays where it was made.
  DecodeCache(const DecodeCache&) = delete;
  DecodeCache& operator=(const DecodeCache&) = delete;

  // The page for a guest-physical page number; a stale page is emptied and reused. With the
  // bound passed, every page is dropped first (records returned before are freed).
  DecodedPage* get(uint64_t gpa_page);
  // Marks the page stale if it is cached. Returns whether it was.
  bool invalidate(uint64_t gpa_page);
  void clear();
  [[nodiscard]] size_t pages() const { return pages_.size(); }
  // Host memory the cache holds: the pages (their tables and records) and the map's nodes.
  [[nodiscard]] uint64_t bytes() const;
  // Times the bound dropped every page.
  [[nodiscard]] uint64_t flushes() const { return flushes_; }

 private:
  uint64_t max_bytes_;
  uint64_t held_ = 0;  // the pages' bytes(), summed
  uint64_t flushes_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<DecodedPage>> pages_;
  uint64_t last_gpa_page_ = ~uint64_t{0};
  DecodedPage* last_ = nullptr;
};

}  // namespace densevm::cpu
