#include "cow-snapshots/snapshot_format.h"

#include <xxhash.h>

#include <algorithm>
#include <new>
#include <cstring>

#include "core/persist.h"

namespace densevm::snapshot {

const char* section_name(SectionId id) {
  switch (id) {
    case SectionId::kConfig: return "config";
    case SectionId::kState: return "state";
    case SectionId::kIndex: return "index";
    case SectionId::kPages: return "pages";
    case SectionId::kLineage: return "lineage";
  }
  return "unknown";
}

uint64_t checksum(std::span<const uint8_t> bytes) { return XXH3_64bits(bytes.data(), bytes.size()); }

std::span<const uint8_t> Container::section(SectionId id) const {
  for (const SectionView& s : sections) {
    if (s.id == id) return s.payload;
  }
  throw SnapshotError(std::string("snapshot has no ") + section_name(id) + " section");
}

uint64_t Container::checksum_of(SectionId id) const {
  for (const SectionView& s : sections) {
    if (s.id == id) return s.checksum;
  }
  throw SnapshotError(std::string("snapshot has no ") + section_name(id) + " section");
}

uint64_t Container::content_checksum() const {
  std::vector<uint64_t> sums;
  for (const SectionView& s : sections) sums.push_back(s.checksum);
  return XXH3_64bits(sums.data(), sums.size() * sizeof(uint64_t));
}

void VectorSink::patch(uint64_t offset, std::span<const uint8_t> bytes) {
  std::copy(bytes.begin(), bytes.end(), out_.begin() + static_cast<ptrdiff_t>(offset));
}

ContainerWriter::ContainerWriter(ContainerSink& sink, uint32_t flags, uint32_t count)
    : sink_(sink), hash_(XXH3_createState()) {
  if (hash_ == nullptr) throw std::bad_alloc();
  StateWriter w;
  for (uint8_t b : kMagic) w.u8(b);
  w.u32(kVersion);
  w.u32(flags);
  w.u32(count);
  sink_.append(w.bytes());
}

ContainerWriter::~ContainerWriter() { XXH3_freeState(static_cast<XXH3_state_t*>(hash_)); }

void ContainerWriter::section(SectionId id, std::span<const uint8_t> payload) {
  begin(id);
  append(payload);
  end();
}

void ContainerWriter::begin(SectionId id) {
  if (open_) throw std::logic_error("ContainerWriter: a section is already open");
  header_at_ = sink_.size();
  length_ = 0;
  open_ = true;
  (void)XXH3_64bits_reset(static_cast<XXH3_state_t*>(hash_));
  StateWriter w;  // length and checksum: patched by end()
  w.u32(static_cast<uint32_t>(id));
  w.u64(0);
  w.u64(0);
  sink_.append(w.bytes());
}

void ContainerWriter::append(std::span<const uint8_t> bytes) {
  if (!open_) throw std::logic_error("ContainerWriter: no section open");
  (void)XXH3_64bits_update(static_cast<XXH3_state_t*>(hash_), bytes.data(), bytes.size());
  length_ += bytes.size();
  sink_.append(bytes);
}

void ContainerWriter::end() {
  if (!open_) throw std::logic_error("ContainerWriter: no section open");
  open_ = false;
  StateWriter w;
  w.u64(length_);
  w.u64(XXH3_64bits_digest(static_cast<XXH3_state_t*>(hash_)));
  sink_.patch(header_at_ + 4, w.bytes());
}

std::vector<uint8_t> encode_container(uint32_t flags, const std::vector<Section>& sections) {
  std::vector<uint8_t> out;
  VectorSink sink(out);
  ContainerWriter w(sink, flags, static_cast<uint32_t>(sections.size()));
  for (const Section& s : sections) w.section(s.id, s.payload);
  return out;
}

Container decode_container(std::span<const uint8_t> file, bool verify_pages) {
  if (file.size() < kMagic.size() || !std::equal(kMagic.begin(), kMagic.end(), file.begin())) {
    throw SnapshotError("not a densevm snapshot (bad magic)");
  }
  Container c;
  try {
    StateReader r(file);
    (void)r.take(kMagic.size());
    c.version = r.u32();
    if (c.version < kOldestVersion || c.version > kVersion) {
      throw SnapshotError("snapshot version " + std::to_string(c.version) +
                          " is not supported (this densevm reads versions " +
                          std::to_string(kOldestVersion) + " to " + std::to_string(kVersion) + ")");
    }
    c.flags = r.u32();
    if (c.flags & ~kKnownFlags) throw SnapshotError("snapshot has unknown flags");
    const uint32_t count = r.u32();
    if (count != kSectionCount) throw SnapshotError("snapshot has a bad section count");
    for (uint32_t i = 0; i < count; ++i) {
      const uint32_t id = r.u32();
      if (id != i + 1) throw SnapshotError("snapshot has a bad section table");
      const auto sid = static_cast<SectionId>(id);
      const uint64_t length = r.u64();
      const uint64_t sum = r.u64();
      if (length > r.remaining()) {
        throw SnapshotError(std::string("snapshot is truncated in the ") + section_name(sid) +
                            " section");
      }
      const std::span<const uint8_t> payload = r.take(length);
      const bool verify = verify_pages || sid != SectionId::kPages;
      if (verify && checksum(payload) != sum) {
        throw SnapshotError(std::string("snapshot checksum mismatch in the ") + section_name(sid) +
                            " section");
      }
      c.sections.push_back({sid, payload, sum});
    }
    if (r.remaining() != 0) throw SnapshotError("snapshot has trailing bytes");
    c.pages_verified = verify_pages;
  } catch (const StateError&) {
    throw SnapshotError("snapshot is truncated");
  }
  return c;
}

}  // namespace densevm::snapshot
