#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace densevm {
namespace {

std::string errno_text() { return std::strerror(errno); }

constexpr size_t kBufferBytes = size_t{1} << 20;

}  // namespace

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

AtomicFile::AtomicFile(std::string path, mode_t mode, std::string label)
    : path_(std::move(path)), label_(label.empty() ? path_ : std::move(label)), temp_(path_ + ".tmp.XXXXXX") {
  fd_ = ::mkstemp(temp_.data());
  if (fd_ < 0) {
    throw std::runtime_error("cannot write " + label_ + ": create " + temp_ + ": " + errno_text());
  }
  if (::fchmod(fd_, mode) != 0) fail("chmod");
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0) return;
  ::close(fd_);
  ::unlink(temp_.c_str());
}

void AtomicFile::fail(const std::string& step) {
  const std::string why = errno_text();
  ::close(fd_);
  ::unlink(temp_.c_str());
  fd_ = -1;
  throw std::runtime_error("cannot write " + label_ + ": " + step + ": " + why);
}

void AtomicFile::check_open() const {
  if (fd_ < 0) throw std::runtime_error("cannot write " + label_ + ": already failed or committed");
}

void AtomicFile::write_through(std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += static_cast<size_t>(n);
  }
  written_ += bytes.size();
}

void AtomicFile::flush() {
  write_through(buffer_);
  buffer_.clear();
}

void AtomicFile::write(std::span<const uint8_t> bytes) {
  check_open();
  if (buffer_.size() + bytes.size() > kBufferBytes) flush();
  if (bytes.size() >= kBufferBytes) {
    write_through(bytes);  // large: straight from the caller's memory
    return;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

void AtomicFile::write_at(uint64_t offset, std::span<const uint8_t> bytes) {
  check_open();
  if (offset + bytes.size() > size()) throw std::logic_error("AtomicFile::write_at past what was written");
  flush();
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("write");
    done += static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  check_open();
  flush();
  if (::fsync(fd_) != 0) fail("fsync");
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    ::unlink(temp_.c_str());
    throw std::runtime_error("cannot write " + label_ + ": close: " + errno_text());
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(temp_.c_str());
    throw std::runtime_error("cannot write " + label_ + ": rename " + temp_ + ": " + why);
  }
  // The rename itself must be durable too.
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    (void)::fsync(dir);
    ::close(dir);
  }
}

}  // namespace densevm
