// AtomicFile: the output file of `--save` and `--stats`, written so that no reader ever sees
// half of it under its name and nothing but a file is ever replaced.
//
// What PATH names decides how (checked when the AtomicFile is made):
// - a regular file, or a name that does not exist: written to a temp name in its directory
//   and renamed over PATH by commit(), after an fsync (and the directory's after the
//   rename); until then (an exception, a crash) nothing new is under the name, and the
//   destructor removes the temp file;
// - a symlink: followed (to its final target), and the rule applied to the target; the link
//   itself is never replaced;
// - a character device or FIFO (/dev/null, a terminal, /dev/stdout, a pipe): written in
//   place. A seekable one (/dev/null, /dev/full) takes the bytes as they come; a FIFO or
//   terminal gets them at commit(), staged meanwhile in an unlinked temp file, because
//   write_at may patch bytes written long before;
// - anything else (a directory, a block device, a socket): refused.
// Writes are buffered; bytes already written can be overwritten (a length or checksum
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
  enum class Target : uint8_t { kReplace, kInPlace, kStaged };

  void flush();
  void write_through(std::span<const uint8_t> bytes);
  void copy_stage_to_target();
  void check_open() const;
  void close_all();
  [[noreturn]] void fail(const std::string& step);

  std::string path_;   // the final target (symlinks resolved)
  std::string label_;  // what error messages say is being written
  std::string temp_;   // kReplace: the temp name renamed over path_
  Target target_ = Target::kReplace;
  int fd_ = -1;        // what write() goes to: the temp file, the device, or the stage
  int device_fd_ = -1;  // kStaged: the FIFO or terminal, written at commit()
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace densevm
