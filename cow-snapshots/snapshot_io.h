// Snapshot files on disk: written through an AtomicFile (a temp file fsync'ed and renamed
// over the final name, so a reader never sees a half-written snapshot), read mapped.
//
//   AtomicFile file("vm.snap", 0600);
//   FileSink sink(file);
//   ContainerWriter w(sink, flags, kSectionCount);  ...  file.commit();
//   MappedFile back("vm.snap");   // read-only mapping; throws SnapshotError
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/atomic_file.h"
#include "cow-snapshots/snapshot_format.h"

namespace densevm::snapshot {

// A snapshot streamed into an AtomicFile (ContainerWriter writes through it).
class FileSink final : public ContainerSink {
 public:
  explicit FileSink(AtomicFile& file) : file_(file) {}
  void append(std::span<const uint8_t> bytes) override { file_.write(bytes); }
  void patch(uint64_t offset, std::span<const uint8_t> bytes) override { file_.write_at(offset, bytes); }
  [[nodiscard]] uint64_t size() const override { return file_.size(); }

 private:
  AtomicFile& file_;
};

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
