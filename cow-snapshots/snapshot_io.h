// Whole-file reads and crash-safe whole-file writes for snapshot files.
//
// A write goes to a temp file in the same directory, is fsync'ed, then renamed over the
// final name (and the directory fsync'ed), so a reader never sees a half-written snapshot.
//
//   write_file_atomically("vm.snap", bytes);
//   MappedFile back("vm.snap");   // read-only mapping; throws SnapshotError
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace densevm::snapshot {

// The directory holding path ("." for a bare name).
[[nodiscard]] std::string directory_of(const std::string& path);

// Throws std::runtime_error (one line) and removes the temp file on any failure.
void write_file_atomically(const std::string& path, std::span<const uint8_t> bytes);
// A whole file mapped read-only: pages are read from disk when first used, so a lazy
// restore touches only what the guest touches. Throws SnapshotError (one line) if the file
// cannot be opened or mapped.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  [[nodiscard]] std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace densevm::snapshot
