#include "vmm/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace densevm {

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  auto fail = [&](const std::string& why) -> std::runtime_error {
    return std::runtime_error("cannot open " + path + ": " + why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw fail(std::strerror(EISDIR));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    throw std::runtime_error(path + ": file is larger than " + std::to_string(max_bytes >> 20) + " MiB");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
    if (n == 0) break;  // the file shrank under us: what we have is what there is
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace densevm
