#include "planner/fingerprint_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "core/atomic_file.h"
#include "core/persist.h"

namespace densevm::planner {
namespace {

enum class Id : uint32_t { kInfo = 1, kRanges = 2, kSketch = 3, kSamples = 4, kPages = 5 };
constexpr uint32_t kSectionCount = 5;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 4;
constexpr size_t kSectionHeaderBytes = 4 + 8 + 8;
constexpr uint64_t kMaxName = 4096;
constexpr uint64_t kMaxRanges = 1 << 16;
constexpr uint64_t kMaxRamPages = uint64_t{1} << 28;  // 1 TiB, the snapshot format's limit too
constexpr int kZstdLevel = 1;  // hashes are random: only zero runs compress, and cheaply
constexpr uint64_t kZstdMaxRatio = (128 << 10) / 4;  // a zstd RLE block: 4 bytes for 128 KiB

const char* section_name(Id id) {
  switch (id) {
    case Id::kInfo:
      return "info";
    case Id::kRanges:
      return "ranges";
    case Id::kSketch:
      return "sketch";
    case Id::kSamples:
      return "samples";
    case Id::kPages:
      return "pages";
  }
  return "unknown";
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void write_section(AtomicFile& file, Id id, std::span<const uint8_t> payload) {
  std::vector<uint8_t> header;
  put_u32(header, static_cast<uint32_t>(id));
  put_u64(header, payload.size());
  put_u64(header, XXH3_64bits(payload.data(), payload.size()));
  file.write(header);
  file.write(payload);
}

std::vector<uint8_t> info_payload(const Fingerprint& fp) {
  StateWriter w;
  w.str(fp.name);
  w.u8(static_cast<uint8_t>(fp.kind));
  w.u64(fp.image_bytes);
  w.u64(fp.ram_pages);
  w.u64(fp.zero_pages);
  w.u64(fp.distinct_pages);
  w.boolean(fp.working_set_pages.has_value());
  w.u64(fp.working_set_pages.value_or(0));
  return std::move(w.bytes());
}

std::vector<uint8_t> ranges_payload(const Fingerprint& fp) {
  StateWriter w;
  w.u64(fp.ranges.size());
  for (const PageRun& r : fp.ranges) {
    w.u64(r.gpa);
    w.u64(r.pages);
  }
  return std::move(w.bytes());
}

std::vector<uint8_t> sketch_payload(const Fingerprint& fp) {
  StateWriter w;
  w.u32(fp.sketch.k());
  w.u64(fp.sketch.values().size());
  for (const uint64_t v : fp.sketch.values()) w.u64(v);
  return std::move(w.bytes());
}

std::vector<uint8_t> samples_payload(const Fingerprint& fp) {
  StateWriter w;
  w.u64(fp.samples.size());
  for (const PositionSample& s : fp.samples) {
    w.u64(s.gpa);
    w.u64(s.hash);
  }
  return std::move(w.bytes());
}

std::vector<uint8_t> pages_payload(const Fingerprint& fp) {
  const size_t raw = fp.page_hashes.size() * sizeof(uint64_t);
  std::vector<uint8_t> out;
  put_u64(out, raw);
  out.resize(8 + ZSTD_compressBound(raw));
  const size_t n = ZSTD_compress(out.data() + 8, out.size() - 8, fp.page_hashes.data(), raw, kZstdLevel);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(8 + n);
  return out;
}

// A file read with pread: only the sections asked for are read.
class Input {
 public:
  explicit Input(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st{};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) fail("not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~Input() { ::close(fd_); }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  std::vector<uint8_t> read(uint64_t offset, uint64_t n, const char* what) {
    if (offset > size_ || n > size_ - offset) fail(std::string("truncated ") + what);
    std::vector<uint8_t> out(n);
    uint64_t done = 0;
    while (done < n) {
      const ssize_t r = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) fail(std::string("cannot read ") + what);
      done += static_cast<uint64_t>(r);
    }
    return out;
  }
  [[nodiscard]] uint64_t size() const { return size_; }
  [[noreturn]] void fail(const std::string& why) const {
    throw FingerprintError("fingerprint " + path_ + ": " + why);
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

uint32_t le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t le64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

void parse_info(StateReader r, Fingerprint& fp) {
  fp.name = r.str(kMaxName);
  const uint8_t kind = r.u8();
  if (kind < 1 || kind > 3) throw StateError("unknown image kind " + std::to_string(kind));
  fp.kind = static_cast<ImageKind>(kind);
  fp.image_bytes = r.u64();
  fp.ram_pages = r.u64();
  fp.zero_pages = r.u64();
  fp.distinct_pages = r.u64();
  const bool has_ws = r.boolean();
  const uint64_t ws = r.u64();
  if (has_ws) fp.working_set_pages = ws;
  r.expect_end("info section");
  if (fp.ram_pages == 0 || fp.ram_pages > kMaxRamPages) throw StateError("RAM size out of range");
  if (fp.zero_pages > fp.ram_pages) throw StateError("more zero pages than pages");
  if (fp.distinct_pages > fp.nonzero_pages()) throw StateError("more distinct pages than non-zero pages");
  if (ws > fp.ram_pages) throw StateError("working set larger than RAM");
}

void parse_ranges(StateReader r, Fingerprint& fp) {
  const uint64_t n = r.u64();
  if (n > kMaxRanges || n * 16 != r.remaining()) throw StateError("bad range count");
  uint64_t pages = 0, end = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const PageRun run{r.u64(), r.u64()};
    if (run.gpa % kPageBytes != 0 || run.pages == 0 || run.gpa < end || run.pages > (~uint64_t{0} - run.gpa) / kPageBytes) {
      throw StateError("ranges are not ascending page runs");
    }
    end = run.gpa + run.pages * kPageBytes;
    pages += run.pages;
    fp.ranges.push_back(run);
  }
  if (pages != fp.ram_pages) throw StateError("ranges do not add up to the RAM pages");
}

void parse_sketch(StateReader r, Fingerprint& fp) {
  const uint32_t k = r.u32();
  const uint64_t n = r.u64();
  if (n * 8 != r.remaining() || n > k || n > fp.distinct_pages) throw StateError("bad sketch size");
  std::vector<uint64_t> values(n);
  for (uint64_t& v : values) v = r.u64();
  try {
    fp.sketch = KmvSketch::from_values(std::move(values), k);
  } catch (const std::invalid_argument& e) {
    throw StateError(e.what());
  }
  if (fp.sketch.values().size() != std::min<uint64_t>(k, fp.distinct_pages)) throw StateError("sketch is not full");
}

void parse_samples(StateReader r, Fingerprint& fp) {
  const uint64_t n = r.u64();
  if (n * 16 != r.remaining() || n > fp.ram_pages) throw StateError("bad sample count");
  fp.samples.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    const PositionSample s{r.u64(), r.u64()};
    if (s.gpa % kPageBytes != 0 || (!fp.samples.empty() && s.gpa <= fp.samples.back().gpa)) {
      throw StateError("samples are not ascending pages");
    }
    fp.samples.push_back(s);
  }
}

void parse_pages(std::span<const uint8_t> payload, Fingerprint& fp) {
  if (payload.size() < 8) throw StateError("pages section too short");
  const uint64_t raw = le64(payload.data());
  if (raw != fp.ram_pages * 8) throw StateError("pages section does not hold one hash per page");
  const unsigned long long framed = ZSTD_getFrameContentSize(payload.data() + 8, payload.size() - 8);
  if (framed != raw) throw StateError("pages section's zstd frame has the wrong size");
  // zstd's densest block (RLE: a 3-byte header and one byte) stands for at most 128 KiB, so a
  // frame of n bytes holds at most 32768 n: a size past that is only its header's claim, refused
  // before a table of up to 2 GiB is built for it.
  if (raw / kZstdMaxRatio > payload.size() - 8) {
    throw StateError("pages section's zstd frame of " + std::to_string(payload.size() - 8) +
                     " bytes cannot hold the " + std::to_string(raw) + " it claims");
  }
  fp.page_hashes.resize(fp.ram_pages);
  const size_t n = ZSTD_decompress(fp.page_hashes.data(), raw, payload.data() + 8, payload.size() - 8);
  if (ZSTD_isError(n) || n != raw) throw StateError("pages section does not decompress");
  const uint64_t zero = zero_page_hash();
  const auto zeros = static_cast<uint64_t>(std::count(fp.page_hashes.begin(), fp.page_hashes.end(), zero));
  if (zeros != fp.zero_pages) throw StateError("pages disagree with the zero page count");
}

}  // namespace

void write_fingerprint(const Fingerprint& fp, const std::string& path) {
  if (fp.page_hashes.size() != fp.ram_pages) throw std::logic_error("fingerprint written without its pages");
  AtomicFile file(path, 0644);
  std::vector<uint8_t> header(kFingerprintMagic.begin(), kFingerprintMagic.end());
  put_u32(header, kFingerprintVersion);
  put_u32(header, kFingerprintCompressed);
  put_u32(header, kSectionCount);
  file.write(header);
  write_section(file, Id::kInfo, info_payload(fp));
  write_section(file, Id::kRanges, ranges_payload(fp));
  write_section(file, Id::kSketch, sketch_payload(fp));
  write_section(file, Id::kSamples, samples_payload(fp));
  write_section(file, Id::kPages, pages_payload(fp));
  file.commit();
}

Fingerprint read_fingerprint(const std::string& path, bool with_pages) {
  Input in(path);
  const std::vector<uint8_t> header = in.read(0, kHeaderBytes, "header");
  if (!std::equal(kFingerprintMagic.begin(), kFingerprintMagic.end(), header.begin())) {
    in.fail("not a densevm fingerprint (bad magic)");
  }
  const uint32_t version = le32(&header[8]);
  if (version != kFingerprintVersion) in.fail("version " + std::to_string(version) + " is not supported");
  if (le32(&header[12]) != kFingerprintCompressed) in.fail("unknown flags");
  if (le32(&header[16]) != kSectionCount) in.fail("wrong section count");
  Fingerprint fp;
  uint64_t at = kHeaderBytes;
  for (uint32_t i = 1; i <= kSectionCount; ++i) {
    const Id id = static_cast<Id>(i);
    const std::vector<uint8_t> sh = in.read(at, kSectionHeaderBytes, "section header");
    if (le32(&sh[0]) != i) in.fail(std::string("expected the ") + section_name(id) + " section");
    const uint64_t length = le64(&sh[4]);
    at += kSectionHeaderBytes;
    if (length > in.size() - std::min(at, in.size())) in.fail(std::string("truncated ") + section_name(id) + " section");
    if (id == Id::kPages) {
      if (at + length != in.size()) in.fail("trailing bytes after the pages section");
      if (!with_pages) break;
    }
    const std::vector<uint8_t> payload = in.read(at, length, section_name(id));
    if (XXH3_64bits(payload.data(), payload.size()) != le64(&sh[12])) {
      in.fail(std::string("checksum mismatch in the ") + section_name(id) + " section");
    }
    at += length;
    try {
      switch (id) {
        case Id::kInfo:
          parse_info(StateReader(payload), fp);
          break;
        case Id::kRanges:
          parse_ranges(StateReader(payload), fp);
          break;
        case Id::kSketch:
          parse_sketch(StateReader(payload), fp);
          break;
        case Id::kSamples:
          parse_samples(StateReader(payload), fp);
          break;
        case Id::kPages:
          parse_pages(payload, fp);
          break;
      }
    } catch (const StateError& e) {
      in.fail(std::string(section_name(id)) + " section: " + e.what());
    }
  }
  return fp;
}

}  // namespace densevm::planner
