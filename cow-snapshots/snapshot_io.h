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

#include "cow-snapshots/snapshot_format.h"

namespace densevm::snapshot {

// The directory holding path ("." for a bare name).
[[nodiscard]] std::string directory_of(const std::string& path);

// A file written to a temp name in path's directory and renamed over path by commit(), after
// an fsync: until then (an exception, a crash) nothing is under path, and the destructor
// removes the temp file. Writes are buffered; every failure throws std::runtime_error (one
// line naming path).
//
//   AtomicFile f("vm.snap");
//   f.write(header);  f.write(pages);  f.write_at(8, fixed_up);  f.commit();
// It is a ContainerSink: a snapshot streams into it (ContainerWriter).
class AtomicFile final : public ContainerSink {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile() override;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const uint8_t> bytes);
  // Overwrites bytes already written (a length or checksum known only later).
  void write_at(uint64_t offset, std::span<const uint8_t> bytes);
  [[nodiscard]] uint64_t size() const override { return written_ + buffer_.size(); }
  void commit();

  void append(std::span<const uint8_t> bytes) override { write(bytes); }
  void patch(uint64_t offset, std::span<const uint8_t> bytes) override { write_at(offset, bytes); }

 private:
  void flush();
  void write_through(std::span<const uint8_t> bytes);
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  std::string temp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

// One AtomicFile holding `bytes`.
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
