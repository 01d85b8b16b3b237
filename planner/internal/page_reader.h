// PageReader: an image file read front to back in large preads (the kernel's readahead keeps
// the disk busy while we hash), every 4 KiB page hashed with XXH3-64; a short last page is
// hashed zero-padded, as the guest would read it.
//
//   PageReader in(path, "QEMU dump");
//   in.hash_pages(offset, bytes, out.data(), progress);
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "planner/memory_image.h"

namespace densevm::planner::internal {

class PageReader {
 public:
  // Throws ImageError ("cannot open <what> <path>: ...").
  PageReader(const std::string& path, const char* what);
  ~PageReader();
  PageReader(const PageReader&) = delete;
  PageReader& operator=(const PageReader&) = delete;

  [[nodiscard]] uint64_t size() const { return size_; }
  // The whole file mapped read-only, for headers: nothing is read until it is touched.
  [[nodiscard]] std::span<const uint8_t> mapped();
  // Hashes ceil(bytes / 4 KiB) pages starting at file offset `offset` into out[]. Reports
  // progress as bytes_done() + what it read so far, against `total`.
  void hash_pages(uint64_t offset, uint64_t bytes, uint64_t* out, const Progress& progress, uint64_t total);
  [[nodiscard]] uint64_t bytes_done() const { return done_; }
  [[noreturn]] void fail(const std::string& why) const;

 private:
  std::string path_;
  const char* what_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t done_ = 0;
  void* map_ = nullptr;
  std::vector<uint8_t> buffer_;  // one chunk of the file, reused
};

}  // namespace densevm::planner::internal
