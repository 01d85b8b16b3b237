#include "planner/memory_image.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "planner/internal/page_reader.h"
#include "planner/qemu_dump.h"

namespace densevm::planner {
namespace {

constexpr std::string_view kRawPrefix = "raw:";

// The first bytes of a file, to recognize it by; fewer if it is shorter.
std::array<uint8_t, 8> magic_of(const std::string& path) {
  std::array<uint8_t, 8> magic{};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ImageError("cannot open image " + path + ": " + std::strerror(errno));
  const ssize_t n = ::read(fd, magic.data(), magic.size());
  ::close(fd);
  if (n < 0) throw ImageError("cannot read image " + path + ": " + std::strerror(errno));
  return magic;
}

}  // namespace

MemoryImage read_raw_image(const std::string& path, const Progress& progress) {
  internal::PageReader in(path, "raw image");
  if (in.size() == 0) in.fail("empty");
  if (in.size() % kPageBytes != 0) in.fail("size is not a whole number of 4 KiB pages");
  MemoryImage m;
  m.kind = ImageKind::kRaw;
  m.image_bytes = in.size();
  m.ranges = {{0, in.size() / kPageBytes}};
  m.page_hashes.resize(in.size() / kPageBytes);
  in.hash_pages(0, in.size(), m.page_hashes.data(), progress, in.size());
  m.bytes_read = in.bytes_done();
  return m;
}

MemoryImage read_qemu_dump(const std::string& path, const Progress& progress) {
  internal::PageReader in(path, "QEMU dump");
  QemuDumpLayout layout;
  try {
    layout = parse_qemu_dump(in.mapped());
  } catch (const ImageError& e) {
    in.fail(e.what());
  }
  MemoryImage m;
  m.kind = ImageKind::kQemuDump;
  m.image_bytes = in.size();
  uint64_t pages = 0, total = 0;
  for (const DumpSegment& s : layout.segments) {
    pages += s.memsz / kPageBytes;
    total += s.filesz;
    if (!m.ranges.empty() && m.ranges.back().gpa + m.ranges.back().pages * kPageBytes == s.paddr) {
      m.ranges.back().pages += s.memsz / kPageBytes;
    } else {
      m.ranges.push_back({s.paddr, s.memsz / kPageBytes});
    }
  }
  m.page_hashes.assign(pages, zero_page_hash());  // what is past p_filesz reads as zero
  uint64_t* out = m.page_hashes.data();
  for (const DumpSegment& s : layout.segments) {
    in.hash_pages(s.offset, s.filesz, out, progress, total);
    out += s.memsz / kPageBytes;
  }
  m.bytes_read = in.bytes_done();
  return m;
}

MemoryImage read_memory_image(const std::string& spec, const Progress& progress) {
  if (spec.starts_with(kRawPrefix)) return read_raw_image(spec.substr(kRawPrefix.size()), progress);
  const std::array<uint8_t, 8> magic = magic_of(spec);
  if (std::memcmp(magic.data(), "DVMSNAP", 8) == 0) return read_snapshot_image(spec, progress);
  if (std::memcmp(magic.data(), "\x7f" "ELF", 4) == 0) return read_qemu_dump(spec, progress);
  throw ImageError("image " + spec +
                   ": not a densevm snapshot or QEMU dump-guest-memory core (a raw RAM file is named raw:" + spec + ")");
}

Fingerprint fingerprint_image(const std::string& spec, const Progress& progress) {
  MemoryImage m = read_memory_image(spec, progress);
  const std::string path = spec.starts_with(kRawPrefix) ? spec.substr(kRawPrefix.size()) : spec;
  Fingerprint fp = fingerprint_of(std::filesystem::path(path).filename().string(), m.kind, std::move(m.ranges),
                                  std::move(m.page_hashes));
  fp.image_bytes = m.image_bytes;
  fp.working_set_pages = m.working_set_pages;
  return fp;
}

}  // namespace densevm::planner
