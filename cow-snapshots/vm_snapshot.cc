#include "cow-snapshots/vm_snapshot.h"

#include <xxhash.h>
#include <zstd.h>

#include <cstring>
#include <unordered_map>

#include "cow-snapshots/snapshot_io.h"
#include "vmm/snapshot_state.h"

namespace densevm::snapshot {
namespace {

constexpr uint64_t kMaxMemBytes = uint64_t{1} << 40;  // refuse absurd sizes before allocating
constexpr uint64_t kMaxCmdline = 4096;
constexpr int kZstdLevel = 3;

bool is_zero_page(const uint8_t* p) {
  static constexpr uint8_t kZero[kPageSize] = {};
  return std::memcmp(p, kZero, kPageSize) == 0;
}

std::vector<uint8_t> encode_config(const VmConfig& c) {
  StateWriter w;
  w.u64(c.mem_bytes);
  w.str(c.cmdline);
  w.u8(static_cast<uint8_t>(c.paging));
  w.boolean(c.check_mmu);
  return std::move(w.bytes());
}

VmConfig decode_config(std::span<const uint8_t> bytes) {
  StateReader r(bytes);
  VmConfig c;
  c.mem_bytes = r.u64();
  c.cmdline = r.str(kMaxCmdline);
  const uint8_t paging = r.u8();
  c.check_mmu = r.boolean();
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

// Counts and the gpa -> stored-page table, then the stored pages (FORMAT.md, "pages").
std::vector<uint8_t> encode_pages(Vm& vm, SaveStats& stats) {
  FrameStore& frames = vm.memory().frames();
  std::vector<PageRef> refs;
  std::vector<const uint8_t*> stored;
  std::unordered_map<uint64_t, std::vector<uint32_t>> by_hash;
  vm.memory().p2m().for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms) {
    ++stats.pages_mapped;
    const uint8_t* page = frames.host_ptr(hpa);
    if (is_zero_page(page)) {
      ++stats.zero_pages;
      return;
    }
    // The hash only nominates candidates; memcmp decides (a collision must not merge pages).
    std::vector<uint32_t>& same = by_hash[XXH3_64bits(page, kPageSize)];
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
  });
  stats.pages_stored = stored.size();
  StateWriter w;
  w.u64(refs.size());
  w.u64(stored.size());
  w.u64(stats.zero_pages);
  w.u64(stats.duplicate_pages);
  for (const PageRef& r : refs) {
    w.u64(r.gpa);
    w.u32(r.stored);
  }
  for (const uint8_t* p : stored) w.bytes().insert(w.bytes().end(), p, p + kPageSize);
  return std::move(w.bytes());
}

std::vector<uint8_t> compress(const std::vector<uint8_t>& raw) {
  StateWriter w;
  w.u64(raw.size());
  const size_t header = w.bytes().size();
  w.bytes().resize(header + ZSTD_compressBound(raw.size()));
  const size_t n = ZSTD_compress(w.bytes().data() + header, w.bytes().size() - header, raw.data(),
                                 raw.size(), kZstdLevel);
  if (ZSTD_isError(n)) throw std::runtime_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  w.bytes().resize(header + n);
  return std::move(w.bytes());
}

std::vector<uint8_t> decompress(std::span<const uint8_t> section, uint64_t max_raw) {
  StateReader r(section);
  const uint64_t raw_size = r.u64();
  if (raw_size > max_raw) throw SnapshotError("snapshot pages section is larger than its memory");
  const std::span<const uint8_t> frame = r.take(r.remaining());
  std::vector<uint8_t> raw(raw_size);
  const size_t n = ZSTD_decompress(raw.data(), raw.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != raw_size) throw SnapshotError("snapshot pages section does not decompress");
  return raw;
}

void decode_pages(std::span<const uint8_t> raw, Snapshot& s) {
  StateReader r(raw);
  const uint64_t max_pages = s.config.mem_bytes / kPageSize;
  const uint64_t refs = r.u64();
  const uint64_t stored = r.u64();
  s.zero_pages = r.u64();
  s.duplicate_pages = r.u64();
  if (refs > max_pages || stored > refs || s.zero_pages > max_pages ||
      s.duplicate_pages != refs - stored) {
    throw SnapshotError("snapshot pages section has inconsistent counts");
  }
  s.pages.reserve(refs);
  for (uint64_t i = 0; i < refs; ++i) {
    const PageRef ref{r.u64(), r.u32()};
    if (ref.gpa % kPageSize || ref.stored >= stored ||
        (!s.pages.empty() && ref.gpa <= s.pages.back().gpa)) {
      throw SnapshotError("snapshot pages section has a bad page entry");
    }
    s.pages.push_back(ref);
  }
  if (r.remaining() != stored * kPageSize) {
    throw SnapshotError("snapshot pages section has the wrong amount of page data");
  }
  const std::span<const uint8_t> data = r.take(r.remaining());
  s.page_data.assign(data.begin(), data.end());
}

}  // namespace

std::vector<uint8_t> encode_vm(Vm& vm, bool compress_pages, SaveStats& stats) {
  if (vm.state() != Vm::State::kRunning) throw std::runtime_error("cannot save a VM that has stopped");
  StateWriter state;
  vm.save(state);
  std::vector<uint8_t> pages = encode_pages(vm, stats);
  if (compress_pages) pages = compress(pages);
  std::vector<Section> sections;
  sections.push_back({SectionId::kConfig, encode_config(vm.config())});
  sections.push_back({SectionId::kState, std::move(state.bytes())});
  sections.push_back({SectionId::kPages, std::move(pages)});
  std::vector<uint8_t> file = encode_container(compress_pages ? kFlagCompressed : 0, sections);
  stats.file_bytes = file.size();
  return file;
}

SaveStats save_vm_file(Vm& vm, const std::string& path, bool compress_pages) {
  SaveStats stats;
  write_file_atomically(path, encode_vm(vm, compress_pages, stats));
  return stats;
}

Snapshot parse_snapshot(std::span<const uint8_t> file) {
  const Container c = decode_container(file);
  Snapshot s;
  s.version = c.version;
  s.flags = c.flags;
  s.file_bytes = file.size();
  for (const SectionView& v : c.sections) s.sections.push_back({v.id, v.payload.size(), v.checksum});
  try {
    s.config = decode_config(c.section(SectionId::kConfig));
    const std::span<const uint8_t> state = c.section(SectionId::kState);
    s.state.assign(state.begin(), state.end());
    const std::span<const uint8_t> pages = c.section(SectionId::kPages);
    if (c.flags & kFlagCompressed) {
      // Counts (32 bytes) + one 12-byte entry and one page per guest page, at most.
      const uint64_t max_raw = 32 + (s.config.mem_bytes / kPageSize) * (12 + kPageSize);
      decode_pages(decompress(pages, max_raw), s);
    } else {
      decode_pages(pages, s);
    }
  } catch (const StateError& e) {
    throw SnapshotError(std::string("snapshot is corrupt: ") + e.what());
  }
  return s;
}

Snapshot load_snapshot_file(const std::string& path) { return parse_snapshot(read_whole_file(path)); }

std::unique_ptr<Vm> restore_vm(const Snapshot& snap, FrameStore& frames, Vm::ConsoleSink sink) {
  auto vm = std::make_unique<Vm>(frames, snap.config, std::move(sink));
  for (const PageRef& ref : snap.pages) {
    const uint8_t* data = snap.page_data.data() + uint64_t{ref.stored} * kPageSize;
    if (!vm->memory().write(Gpa{ref.gpa}, data, kPageSize)) {
      throw SnapshotError("snapshot has a page outside guest RAM or memory ran out");
    }
  }
  try {
    StateReader r(snap.state);
    vm->restore(r);
    r.expect_end("state");
  } catch (const StateError& e) {
    throw SnapshotError(std::string("snapshot state is corrupt: ") + e.what());
  }
  return vm;
}

}  // namespace densevm::snapshot
