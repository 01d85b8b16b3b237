// The snapshot file format's constants and its container: a header, then checksummed
// sections (see FORMAT.md, which this file follows byte for byte).
//
//   std::vector<uint8_t> file = encode_container(kFlagCompressed, sections);
//   Container c = decode_container(file);   // throws SnapshotError naming what is wrong
//   std::span<const uint8_t> pages = c.section(SectionId::kPages);
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace densevm::snapshot {

// Bad snapshot input: the message is the one line the CLI shows.
struct SnapshotError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::array<uint8_t, 8> kMagic = {'D', 'V', 'M', 'S', 'N', 'A', 'P', 0};
// Files are written in kVersion; versions kOldestVersion..kVersion are read. A file's
// version is also its state record's layout (the record's owner reads it in that layout:
// vmm/vm_state.h's VmState::kVersion and kOldestVersion are these).
inline constexpr uint32_t kVersion = 4;
inline constexpr uint32_t kOldestVersion = 2;
inline constexpr uint32_t kFlagCompressed = 1u << 0;  // the pages section is one zstd frame
inline constexpr uint32_t kFlagDiff = 1u << 1;        // pages relative to a parent snapshot
inline constexpr uint32_t kKnownFlags = kFlagCompressed | kFlagDiff;
inline constexpr size_t kHeaderBytes = 8 + 4 + 4 + 4;         // magic, version, flags, count
inline constexpr size_t kSectionHeaderBytes = 4 + 8 + 8;      // id, length, XXH3-64

enum class SectionId : uint32_t { kConfig = 1, kState = 2, kIndex = 3, kPages = 4, kLineage = 5 };
inline constexpr size_t kSectionCount = 5;  // versions 2 to 4 have exactly these, in this order

// One page entry of the index section, as stored (little-endian, unaligned in the file: read
// and written whole with memcpy).
struct [[gnu::packed]] IndexEntry {
  uint64_t gpa;     // page-aligned, strictly ascending
  uint32_t stored;  // index into the stored pages, or kDroppedPage
};
static_assert(sizeof(IndexEntry) == 12, "FORMAT.md: a page entry is a u64 and a u32");
static_assert(std::endian::native == std::endian::little, "index entries are read in place");

// In a diff's index, this stored index drops the parent's page.
inline constexpr uint32_t kDroppedPage = 0xffffffffu;

[[nodiscard]] const char* section_name(SectionId id);

struct Section {
  SectionId id;
  std::vector<uint8_t> payload;
};

struct SectionView {
  SectionId id;
  std::span<const uint8_t> payload;
  uint64_t checksum;
};

struct Container {
  uint32_t version = 0;
  uint32_t flags = 0;
  std::vector<SectionView> sections;  // checksums verified, in file order
  bool pages_verified = false;        // the pages section's checksum was checked too
  [[nodiscard]] std::span<const uint8_t> section(SectionId id) const;
  [[nodiscard]] uint64_t checksum_of(SectionId id) const;
  // What a diff names its parent by: XXH3-64 over the section checksums, in file order.
  [[nodiscard]] uint64_t content_checksum() const;
};

// Where a container goes as it is written: appended bytes, and earlier bytes patched (a
// streamed section's length and checksum, known only at its end).
class ContainerSink {
 public:
  virtual ~ContainerSink() = default;
  virtual void append(std::span<const uint8_t> bytes) = 0;
  virtual void patch(uint64_t offset, std::span<const uint8_t> bytes) = 0;
  [[nodiscard]] virtual uint64_t size() const = 0;
};

// A container built in memory.
class VectorSink final : public ContainerSink {
 public:
  explicit VectorSink(std::vector<uint8_t>& out) : out_(out) {}
  void append(std::span<const uint8_t> bytes) override { out_.insert(out_.end(), bytes.begin(), bytes.end()); }
  void patch(uint64_t offset, std::span<const uint8_t> bytes) override;
  [[nodiscard]] uint64_t size() const override { return out_.size(); }

 private:
  std::vector<uint8_t>& out_;
};

// Writes a container section by section: a small one whole (section), a large one streamed
// (begin, append pieces, end) so that it never has to be held in memory. The caller writes
// the `count` sections it announced, in FORMAT.md's order.
//
//   ContainerWriter w(sink, flags, kSectionCount);
//   w.section(SectionId::kConfig, config);
//   w.begin(SectionId::kPages);  for (page : pages) w.append(page);  w.end();
class ContainerWriter {
 public:
  ContainerWriter(ContainerSink& sink, uint32_t flags, uint32_t count);
  ~ContainerWriter();
  ContainerWriter(const ContainerWriter&) = delete;
  ContainerWriter& operator=(const ContainerWriter&) = delete;

  void section(SectionId id, std::span<const uint8_t> payload);
  void begin(SectionId id);
  void append(std::span<const uint8_t> bytes);
  void end();

 private:
  ContainerSink& sink_;
  void* hash_;                // XXH3_state_t of the open section
  uint64_t header_at_ = 0;    // where the open section's header is
  uint64_t length_ = 0;
  bool open_ = false;
};

[[nodiscard]] std::vector<uint8_t> encode_container(uint32_t flags, const std::vector<Section>& sections);
// Checks magic, version, flags, every length and every checksum; views point into `file`.
// verify_pages = false skips the pages section's checksum (a lazy restore checks each page's
// own hash from the index when it first maps the page instead).
[[nodiscard]] Container decode_container(std::span<const uint8_t> file, bool verify_pages = true);

[[nodiscard]] uint64_t checksum(std::span<const uint8_t> bytes);

}  // namespace densevm::snapshot
