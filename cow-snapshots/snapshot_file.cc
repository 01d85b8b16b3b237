#include "cow-snapshots/snapshot_file.h"

#include <xxhash.h>
#include <zstd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <unordered_map>

#include "core/persist.h"
#include "cow-snapshots/snapshot_image.h"
#include "cow-snapshots/snapshot_io.h"

namespace densevm::snapshot {
namespace {

constexpr uint64_t kMaxMemBytes = uint64_t{1} << 40;  // refuse absurd sizes before allocating
constexpr uint64_t kMaxCmdline = 4096;
constexpr uint32_t kNoNode = 0xffffffffu;  // config: the VM had no home node
constexpr uint32_t kMaxNode = 1023;        // libnuma's MAX_NUMNODES is at most 1024
constexpr int kZstdLevel = 3;

std::string hex(uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%" PRIx64, v);
  return text;
}

bool is_zero_page(const uint8_t* p) {
  static constexpr uint8_t kZero[kPageSize] = {};
  return std::memcmp(p, kZero, kPageSize) == 0;
}

std::vector<uint8_t> encode_config(const SnapshotConfig& c) {
  StateWriter w;
  w.u64(c.mem_bytes);
  w.str(c.cmdline);
  w.u8(static_cast<uint8_t>(c.paging));
  w.boolean(c.check_mmu);
  w.u32(c.numa_node ? static_cast<uint32_t>(*c.numa_node) : kNoNode);
  return std::move(w.bytes());
}

// `version`: the file's (version 4 added the NUMA node).
SnapshotConfig decode_config(std::span<const uint8_t> bytes, uint32_t version) {
  StateReader r(bytes);
  SnapshotConfig c;
  c.mem_bytes = r.u64();
  c.cmdline = r.str(kMaxCmdline);
  const uint8_t paging = r.u8();
  c.check_mmu = r.boolean();
  if (version >= 4) {
    const uint32_t node = r.u32();
    if (node != kNoNode && node > kMaxNode) throw SnapshotError("snapshot config has an impossible NUMA node");
    if (node != kNoNode) c.numa_node = static_cast<int>(node);
  }
  r.expect_end("config");
  if (c.mem_bytes == 0 || c.mem_bytes % kPageSize || c.mem_bytes > kMaxMemBytes) {
    throw SnapshotError("snapshot config has an impossible memory size");
  }
  if (paging > static_cast<uint8_t>(PagingMode::kAuto)) {
    throw SnapshotError("snapshot config has an unknown mmu mode");
  }
  c.paging = static_cast<PagingMode>(paging);
  return c;
}

// The index and the stored pages (FORMAT.md, "index" and "pages"). With a parent, only
// pages whose contents differ from the parent's are entries; parent pages that are zero or
// gone now get a dropping entry.
struct EncodedPages {
  std::vector<uint8_t> index;
  std::vector<const uint8_t*> stored;  // the pages to store, in the guest's frames
};

EncodedPages encode_pages(const GuestMemory& memory, const SaveOptions& o, SaveStats& stats) {
  const FrameStore& frames = memory.frames();
  std::vector<IndexEntry> refs;
  std::vector<const uint8_t*> stored;
  std::vector<uint64_t> hashes;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash;
  memory.for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms) {
    ++stats.pages_mapped;
    const uint8_t* page = frames.host_ptr(hpa);
    const uint8_t* before = o.parent != nullptr ? o.parent->content(gpa) : nullptr;
    if (is_zero_page(page)) {
      if (before != nullptr) {
        refs.push_back({gpa.value(), kDroppedPage});
        ++stats.dropped_pages;
      } else {
        ++stats.zero_pages;
      }
      return;
    }
    if (before != nullptr && std::memcmp(before, page, kPageSize) == 0) {
      ++stats.unchanged_pages;
      return;
    }
    // The hash only nominates candidates; memcmp decides (a collision must not merge pages).
    const uint64_t hash = XXH3_64bits(page, kPageSize);
    std::vector<uint32_t>& same = by_hash[hash];
    for (uint32_t index : same) {
      if (std::memcmp(stored[index], page, kPageSize) == 0) {
        ++stats.duplicate_pages;
        refs.push_back({gpa.value(), index});
        return;
      }
    }
    same.push_back(static_cast<uint32_t>(stored.size()));
    refs.push_back({gpa.value(), static_cast<uint32_t>(stored.size())});
    stored.push_back(page);
    hashes.push_back(hash);
  });
  if (o.parent != nullptr) {
    // A parent page with no frame now: still owed by the image (unchanged) unless the VM
    // gave it up (balloon) or no longer draws on the image at all.
    const size_t mapped_refs = refs.size();
    o.parent->for_each_page([&](Gpa gpa, const uint8_t*) {
      if (memory.mapping(gpa)) return;
      if (memory.has_source() && !memory.discarded_from_source(gpa)) return;
      refs.push_back({gpa.value(), kDroppedPage});
      ++stats.dropped_pages;
    });
    std::inplace_merge(refs.begin(), refs.begin() + static_cast<ptrdiff_t>(mapped_refs), refs.end(),
                       [](const IndexEntry& a, const IndexEntry& b) { return a.gpa < b.gpa; });
  }
  stats.pages_stored = stored.size();
  EncodedPages out;
  StateWriter w;
  w.u64(refs.size());
  w.u64(stored.size());
  w.u64(stats.zero_pages);
  w.u64(stats.duplicate_pages);
  w.u64(stats.dropped_pages);
  for (const IndexEntry& e : refs) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&e);
    w.bytes().insert(w.bytes().end(), bytes, bytes + sizeof e);
  }
  for (const uint64_t h : hashes) w.u64(h);
  out.index = std::move(w.bytes());
  out.stored = std::move(stored);
  return out;
}

std::vector<uint8_t> encode_lineage(const Lineage& l) {
  StateWriter w;
  w.u64(l.id);
  w.u64(l.parent_id);
  w.u64(l.parent_checksum);
  w.str(l.parent_name);
  return std::move(w.bytes());
}

Lineage decode_lineage(std::span<const uint8_t> bytes, bool diff) {
  StateReader r(bytes);
  Lineage l;
  l.id = r.u64();
  l.parent_id = r.u64();
  l.parent_checksum = r.u64();
  l.parent_name = r.str(kMaxCmdline);
  r.expect_end("lineage");
  if (l.id == 0) throw SnapshotError("snapshot lineage has no id");
  if (diff != (l.parent_id != 0) || diff == l.parent_name.empty()) {
    throw SnapshotError("snapshot lineage does not match its diff flag");
  }
  return l;
}

uint64_t new_snapshot_id() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) ^ rd();
  return id;
}

// The pages section, streamed from the guest's frames: the pages one after the other, or
// (compressed) their raw size and one zstd frame of them. Nothing the size of the section
// is held in memory.
void write_pages(ContainerWriter& w, const std::vector<const uint8_t*>& stored, bool compressed) {
  w.begin(SectionId::kPages);
  if (!compressed) {
    for (const uint8_t* page : stored) w.append({page, kPageSize});
    w.end();
    return;
  }
  const uint64_t raw = stored.size() * kPageSize;
  StateWriter size;
  size.u64(raw);
  w.append(size.bytes());
  std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!cctx) throw std::bad_alloc();
  auto check = [](size_t r) {
    if (ZSTD_isError(r)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(r));
    return r;
  };
  (void)check(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, kZstdLevel));
  (void)check(ZSTD_CCtx_setPledgedSrcSize(cctx.get(), raw));  // the frame records it
  std::vector<uint8_t> out(ZSTD_CStreamOutSize());
  auto pump = [&](ZSTD_inBuffer& in, ZSTD_EndDirective mode) {
    size_t left = 0;
    do {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      left = check(ZSTD_compressStream2(cctx.get(), &o, &in, mode));
      w.append({out.data(), o.pos});
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  };
  for (const uint8_t* page : stored) {
    ZSTD_inBuffer in{page, kPageSize, 0};
    pump(in, ZSTD_e_continue);
  }
  ZSTD_inBuffer none{nullptr, 0, 0};
  pump(none, ZSTD_e_end);
  w.end();
}

std::shared_ptr<std::vector<uint8_t>> decompress(std::span<const uint8_t> section, uint64_t raw_size) {
  StateReader r(section);
  if (r.u64() != raw_size) throw SnapshotError("snapshot pages section does not match its index");
  const std::span<const uint8_t> frame = r.take(r.remaining());
  auto raw = std::make_shared<std::vector<uint8_t>>(raw_size);
  const size_t n = ZSTD_decompress(raw->data(), raw->size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != raw_size) throw SnapshotError("snapshot pages section does not decompress");
  return raw;
}

void decode_index(std::span<const uint8_t> bytes, Snapshot& s) {
  StateReader r(bytes);
  const uint64_t max_pages = s.config.mem_bytes / kPageSize;
  const uint64_t refs = r.u64();
  const uint64_t stored = r.u64();
  s.zero_pages = r.u64();
  s.duplicate_pages = r.u64();
  s.dropped_pages = r.u64();
  if (refs > max_pages || stored > refs || s.zero_pages > max_pages || s.dropped_pages > refs - stored ||
      s.duplicate_pages != refs - stored - s.dropped_pages || (s.dropped_pages != 0 && !s.is_diff())) {
    throw SnapshotError("snapshot index has inconsistent counts");
  }
  // Entries and elided zero pages are distinct guest pages, so together they fit in RAM. That
  // is all the file can say of the elided count: an elided page is not listed anywhere.
  if (refs + s.zero_pages > max_pages) {
    throw SnapshotError("snapshot index counts " + std::to_string(refs) + " entries and " +
                        std::to_string(s.zero_pages) + " elided zero pages, more than the " +
                        std::to_string(max_pages) + " pages of guest RAM");
  }
  s.page_count = refs;
  s.entries = r.take(refs * sizeof(IndexEntry));  // StateReader checks the length before anything is read
  uint64_t dropped = 0, last = 0;
  for (uint64_t i = 0; i < refs; ++i) {
    const IndexEntry ref = s.page(i);
    dropped += ref.stored == kDroppedPage;
    if (ref.gpa % kPageSize || (ref.stored >= stored && ref.stored != kDroppedPage) || (i > 0 && ref.gpa <= last)) {
      throw SnapshotError("snapshot index has a bad page entry");
    }
    // Device space (the MMIO window below 4 GiB) and addresses past the end of RAM hold no
    // page a VM could be given.
    if (GuestMemory::ram_page_index(s.config.mem_bytes, Gpa{ref.gpa}) >= max_pages) {
      throw SnapshotError("snapshot index has a page outside guest RAM (entry " + std::to_string(i) + ", gpa " +
                          hex(ref.gpa) + ")");
    }
    last = ref.gpa;
  }
  if (dropped != s.dropped_pages) throw SnapshotError("snapshot index has inconsistent counts");
  s.hashes = r.take(stored * 8);
  r.expect_end("index");
}

// Every stored page against its hash in the index (what a restore checks of each page it
// loads, SnapshotImage::load), naming the first guest page that holds a bad one.
void check_page_hashes(const Snapshot& s) {
  for (uint32_t k = 0; k < s.stored_pages(); ++k) {
    if (page_intact(s.stored_page(k), s.page_hash(k))) continue;
    uint64_t gpa = 0;
    for (uint64_t i = 0; i < s.page_count; ++i) {
      if (s.page(i).stored == k) {
        gpa = s.page(i).gpa;
        break;
      }
    }
    throw SnapshotError("snapshot page at gpa " + hex(gpa) + " (stored page " + std::to_string(k) +
                        ") does not match its hash in the index");
  }
}

// A snapshot into `sink`: the pages go from the guest's frames to the sink.
void write_snapshot(const SnapshotContents& contents, GuestMemory& memory, const SaveOptions& o, SaveStats& stats,
                    ContainerSink& sink) {
  if (o.parent == nullptr && memory.materialize() != GuestMemory::Populate::kMapped) {
    throw std::runtime_error("cannot save: the VM's snapshot pages could not all be read");
  }
  const EncodedPages pages = encode_pages(memory, o, stats);
  Lineage lineage;
  lineage.id = new_snapshot_id();
  if (o.parent != nullptr) {
    lineage.parent_id = o.parent->top().lineage.id;
    lineage.parent_checksum = o.parent->top().content_checksum;
    lineage.parent_name = o.parent_name;
  }
  const uint32_t flags = (o.compress ? kFlagCompressed : 0) | (o.parent != nullptr ? kFlagDiff : 0);
  ContainerWriter w(sink, flags, kSectionCount);
  w.section(SectionId::kConfig, encode_config(contents.config));
  w.section(SectionId::kState, contents.state);
  w.section(SectionId::kIndex, pages.index);
  write_pages(w, pages.stored, o.compress);
  w.section(SectionId::kLineage, encode_lineage(lineage));
  stats.file_bytes = sink.size();
}

}  // namespace

std::vector<uint8_t> encode_snapshot(const SnapshotContents& contents, GuestMemory& memory, const SaveOptions& o,
                                     SaveStats& stats) {
  std::vector<uint8_t> file;
  VectorSink sink(file);
  write_snapshot(contents, memory, o, stats, sink);
  return file;
}

SaveStats save_snapshot_file(const SnapshotContents& contents, GuestMemory& memory, const std::string& path,
                             const SaveOptions& options) {
  SaveStats stats;
  AtomicFile file(path, 0600);  // guest memory: the owner's alone, as mkstemp makes it
  FileSink sink(file);
  write_snapshot(contents, memory, options, stats, sink);
  file.commit();
  return stats;
}

bool page_intact(const uint8_t* page, uint64_t hash) { return XXH3_64bits(page, kPageSize) == hash; }

Snapshot parse_snapshot(std::span<const uint8_t> file, std::shared_ptr<const void> owner, bool verify_pages) {
  const Container c = decode_container(file, verify_pages);
  Snapshot s;
  s.version = c.version;
  s.flags = c.flags;
  s.file_bytes = file.size();
  s.content_checksum = c.content_checksum();
  for (const SectionView& v : c.sections) s.sections.push_back({v.id, v.payload.size(), v.checksum});
  try {
    s.config = decode_config(c.section(SectionId::kConfig), c.version);
    const std::span<const uint8_t> state = c.section(SectionId::kState);
    s.state.assign(state.begin(), state.end());
    s.lineage = decode_lineage(c.section(SectionId::kLineage), s.is_diff());
    decode_index(c.section(SectionId::kIndex), s);
    const std::span<const uint8_t> pages = c.section(SectionId::kPages);
    const uint64_t raw_size = s.stored_pages() * kPageSize;
    if (c.flags & kFlagCompressed) {
      if (!c.pages_verified && checksum(pages) != c.checksum_of(SectionId::kPages)) {
        throw SnapshotError("snapshot checksum mismatch in the pages section");
      }
      auto raw = decompress(pages, raw_size);
      s.page_data = *raw;
      s.page_owner = std::move(raw);
      s.pages_verified = true;
    } else {
      if (pages.size() != raw_size) throw SnapshotError("snapshot pages section does not match its index");
      s.page_data = pages;
      s.pages_verified = c.pages_verified;
    }
    if (verify_pages) check_page_hashes(s);
  } catch (const StateError& e) {
    throw SnapshotError(std::string("snapshot is corrupt: ") + e.what());
  }
  s.file_owner = std::move(owner);
  return s;
}

Snapshot load_snapshot_file(const std::string& path, bool verify_pages) {
  auto file = std::make_shared<MappedFile>(path);
  const std::span<const uint8_t> bytes = file->bytes();
  Snapshot s = parse_snapshot(bytes, std::move(file), verify_pages);
  s.path = path;
  return s;
}

std::vector<Snapshot> load_snapshot_chain(const std::string& path, bool verify_pages,
                                          const std::optional<std::string>& parent_path) {
  constexpr size_t kMaxDepth = 64;
  std::vector<Snapshot> chain;
  chain.push_back(load_snapshot_file(path, verify_pages));
  while (chain.back().is_diff()) {
    if (chain.size() >= kMaxDepth) throw SnapshotError("snapshot chain is deeper than 64 diffs");
    const Snapshot& child = chain.back();
    // Recorded relative to the child's directory (operator/ keeps an absolute name as is).
    const std::string where = chain.size() == 1 && parent_path
                                  ? *parent_path
                                  : (std::filesystem::path(directory_of(child.path)) / child.lineage.parent_name).string();
    std::optional<Snapshot> parent;
    try {
      parent = load_snapshot_file(where, verify_pages);
    } catch (const SnapshotError& e) {
      throw SnapshotError("diff " + child.path + " needs its parent " + where + ": " + e.what());
    }
    if (parent->lineage.id != child.lineage.parent_id ||
        parent->content_checksum != child.lineage.parent_checksum) {
      throw SnapshotError("parent " + where + " is not the snapshot " + child.path +
                          " was saved against (id or checksum differs)");
    }
    if (parent->config.mem_bytes != child.config.mem_bytes) {
      throw SnapshotError("parent " + where + " has a different memory size than " + child.path);
    }
    chain.push_back(std::move(*parent));
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

}  // namespace densevm::snapshot
