#include "planner/internal/page_reader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dedup/page_hash.h"

namespace densevm::planner::internal {
namespace {

constexpr uint64_t kChunk = uint64_t{8} << 20;

}  // namespace

PageReader::PageReader(const std::string& path, const char* what) : path_(path), what_(what) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw ImageError(std::string("cannot open ") + what + " " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw ImageError(std::string("cannot read ") + what + " " + path + ": not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
}

PageReader::~PageReader() {
  if (map_ != nullptr) ::munmap(map_, size_);
  ::close(fd_);
}

std::span<const uint8_t> PageReader::mapped() {
  if (size_ == 0) return {};
  if (map_ == nullptr) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (p == MAP_FAILED) fail(std::string("cannot map: ") + std::strerror(errno));
    map_ = p;
  }
  return {static_cast<const uint8_t*>(map_), size_};
}

void PageReader::fail(const std::string& why) const { throw ImageError(std::string(what_) + " " + path_ + ": " + why); }

void PageReader::hash_pages(uint64_t offset, uint64_t bytes, uint64_t* out, const Progress& progress, uint64_t total) {
  if (offset > size_ || bytes > size_ - offset) fail("truncated (data runs past the end of the file)");
  // As large as the data, up to one chunk: a small file gets a small buffer.
  const uint64_t need = std::min(kChunk, (bytes + kPageBytes - 1) / kPageBytes * kPageBytes);
  if (buffer_.size() < need) buffer_.resize(need);
  uint8_t* const buffer = buffer_.data();
  uint64_t at = 0;
  while (at < bytes) {
    const uint64_t want = std::min<uint64_t>(buffer_.size(), bytes - at);
    // The next chunk is read by the kernel while this one is hashed.
    if (at + want < bytes) {
      (void)::posix_fadvise(fd_, static_cast<off_t>(offset + at + want),
                            static_cast<off_t>(std::min<uint64_t>(buffer_.size(), bytes - at - want)), POSIX_FADV_WILLNEED);
    }
    uint64_t got = 0;
    while (got < want) {
      const ssize_t r = ::pread(fd_, buffer + got, want - got, static_cast<off_t>(offset + at + got));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) fail(std::string("read failed: ") + std::strerror(errno));
      if (r == 0) fail("truncated (the file shrank while being read)");
      got += static_cast<uint64_t>(r);
    }
    if (want % kPageBytes != 0) std::memset(buffer + want, 0, kPageBytes - want % kPageBytes);
    const uint64_t pages = (want + kPageBytes - 1) / kPageBytes;
    for (uint64_t p = 0; p < pages; ++p) *out++ = xxh3_page(buffer + p * kPageBytes);
    at += want;
    done_ += want;
    if (progress) progress(done_, total);
  }
}

}  // namespace densevm::planner::internal
