// AtomicFile: a file written to a temp name in its directory and renamed over its final name
// by commit(), after an fsync (and the directory's after the rename): until then (an
// exception, a crash) nothing new is under the name, and the destructor removes the temp
// file. Writes are buffered; bytes already written can be overwritten (a length or checksum
// known only later). Every failure throws std::runtime_error, one line:
// "cannot write <label>: <step>: <reason>", the label being the path unless given.
//
//   AtomicFile f("vm.snap", 0600);
//   f.write(header);  f.write(pages);  f.write_at(8, fixed_up);  f.commit();
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace densevm {

// The directory holding path ("." for a bare name).
[[nodiscard]] std::string directory_of(const std::string& path);

class AtomicFile {
 public:
  explicit AtomicFile(std::string path, mode_t mode = 0644, std::string label = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(std::span<const uint8_t> bytes);
  // Overwrites bytes already written.
  void write_at(uint64_t offset, std::span<const uint8_t> bytes);
  [[nodiscard]] uint64_t size() const { return written_ + buffer_.size(); }
  void commit();

 private:
  void flush();
  void write_through(std::span<const uint8_t> bytes);
  void check_open() const;
  [[noreturn]] void fail(const std::string& step);

  std::string path_;
  std::string label_;  // what error messages say is being written
  std::string temp_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace densevm
