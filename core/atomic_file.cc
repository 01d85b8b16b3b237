#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace densevm {
namespace {

std::string errno_text() { return std::strerror(errno); }

constexpr size_t kBufferBytes = size_t{1} << 20;
constexpr int kMaxSymlinks = 40;  // as the kernel's path walk (ELOOP)

[[noreturn]] void refuse(const std::string& label, const std::string& why) {
  throw std::runtime_error("cannot write " + label + ": " + why);
}

// Follows `path` through every symlink to the name that is not one (it may not exist:
// a dangling link names the file to create). Relative targets are relative to the link's
// directory.
std::string follow_symlinks(std::string path, const std::string& label) {
  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return path;
    char target[PATH_MAX];
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n < 0) refuse(label, "readlink " + path + ": " + errno_text());
    const std::string next(target, static_cast<size_t>(n));
    path = next.starts_with('/') ? next : directory_of(path) + "/" + next;
  }
  refuse(label, "too many levels of symbolic links");
}

// An unlinked temp file in $TMPDIR (or /tmp): gone with its descriptor, whatever happens.
int open_staging_file() {
  const char* env = std::getenv("TMPDIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : "/tmp";
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR)) return fd;
  std::string name = dir + "/densevm-stage.XXXXXX";  // no O_TMPFILE on this file system
  fd = ::mkstemp(name.data());
  if (fd >= 0) ::unlink(name.c_str());
  return fd;
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file, character device or FIFO";
}

}  // namespace

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

AtomicFile::AtomicFile(std::string path, mode_t mode, std::string label)
    : path_(std::move(path)), label_(label.empty() ? path_ : std::move(label)) {
  // stat() follows links as open() does, magic /proc/self/fd links (/dev/stdout) included.
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) {
      target_ = Target::kInPlace;
    } else if (!S_ISREG(st.st_mode)) {
      refuse(label_, path_ + " is " + file_kind(st.st_mode));
    } else {
      char real[PATH_MAX];
      if (::realpath(path_.c_str(), real) == nullptr) refuse(label_, "realpath: " + errno_text());
      path_ = real;
    }
  } else if (errno == ENOENT) {
    path_ = follow_symlinks(path_, label_);  // a dangling link: create its target
  } else {
    refuse(label_, "stat " + path_ + ": " + errno_text());
  }

  if (target_ == Target::kReplace) {
    temp_ = path_ + ".tmp.XXXXXX";
    fd_ = ::mkstemp(temp_.data());
    if (fd_ < 0) refuse(label_, "create " + temp_ + ": " + errno_text());
    if (::fchmod(fd_, mode) != 0) fail("chmod");
  } else {
    // No O_CREAT, no O_TRUNC: a device or FIFO is written as it is.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) refuse(label_, "open: " + errno_text());
    if (::lseek(fd_, 0, SEEK_CUR) < 0) {
      // Not seekable (a FIFO, a terminal): stage the bytes, so write_at can patch them.
      target_ = Target::kStaged;
      device_fd_ = std::exchange(fd_, -1);
      fd_ = open_staging_file();
      if (fd_ < 0) fail("create a staging file");
    }
  }
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ < 0 && device_fd_ < 0) return;
  close_all();
  if (target_ == Target::kReplace) ::unlink(temp_.c_str());
}

void AtomicFile::close_all() {
  if (fd_ >= 0) ::close(fd_);
  if (device_fd_ >= 0) ::close(device_fd_);
  fd_ = device_fd_ = -1;
}

void AtomicFile::fail(const std::string& step) {
  const std::string why = errno_text();
  close_all();
  if (target_ == Target::kReplace) ::unlink(temp_.c_str());
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
    if (n == 0) errno = ENOSPC;
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
    if (n == 0) errno = ENOSPC;
    if (n <= 0) fail("write");
    done += static_cast<size_t>(n);
  }
}

// The staged bytes, in order, to the FIFO or terminal.
void AtomicFile::copy_stage_to_target() {
  std::vector<uint8_t> chunk(kBufferBytes);
  for (uint64_t at = 0; at < written_;) {
    const ssize_t got = ::pread(fd_, chunk.data(), chunk.size(), static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) fail("read the staging file");
    for (ssize_t done = 0; done < got;) {
      const ssize_t n = ::write(device_fd_, chunk.data() + done, static_cast<size_t>(got - done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("write");
      done += n;
    }
    at += static_cast<uint64_t>(got);
  }
}

void AtomicFile::commit() {
  check_open();
  flush();
  if (target_ == Target::kStaged) copy_stage_to_target();
  if (target_ != Target::kReplace) {
    // A device or FIFO: nothing to rename; fsync means nothing to most (EINVAL, ENOTTY).
    close_all();
    return;
  }
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
