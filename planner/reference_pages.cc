#include "planner/reference_pages.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "planner/fit.h"
#include "planner/internal/hash_set64.h"
#include "planner/internal/page_reader.h"

namespace densevm::planner {
namespace {

struct Piece {
  uint64_t offset;
  uint64_t bytes;
};

uint64_t hex_field(std::span<const uint8_t> file, uint64_t at, const internal::PageReader& in) {
  uint64_t v = 0;
  for (uint64_t i = 0; i < 8; ++i) {
    const char c = static_cast<char>(file[at + i]);
    const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) in.fail("malformed cpio header");
    v = v * 16 + static_cast<uint64_t>(d);
  }
  return v;
}

// cpio "newc": a 110-byte header ("070701", 13 eight-digit hex fields), the name, padding to
// 4 bytes, the data, padding to 4 bytes; "TRAILER!!!" ends it.
std::vector<Piece> cpio_members(std::span<const uint8_t> file, const internal::PageReader& in) {
  std::vector<Piece> out;
  uint64_t at = 0;
  for (;;) {
    if (file.size() - at < 110) in.fail("truncated cpio archive");
    if (std::memcmp(file.data() + at, "070701", 6) != 0) in.fail("malformed cpio header");
    const uint64_t mode = hex_field(file, at + 14, in);
    const uint64_t size = hex_field(file, at + 54, in);
    const uint64_t name_size = hex_field(file, at + 94, in);
    const uint64_t name_at = at + 110;
    if (name_size == 0 || name_size > file.size() - name_at) in.fail("truncated cpio archive");
    const std::string name(reinterpret_cast<const char*>(file.data() + name_at), name_size - 1);
    const uint64_t data_at = (name_at + name_size + 3) & ~uint64_t{3};
    if (name == "TRAILER!!!") return out;
    if (data_at > file.size() || size > file.size() - data_at) in.fail("truncated cpio archive");
    if ((mode & 0170000) == 0100000 && size > 0) out.push_back({data_at, size});  // regular files
    at = (data_at + size + 3) & ~uint64_t{3};
  }
}

std::vector<Piece> elf_segments(std::span<const uint8_t> file, const internal::PageReader& in) {
  Elf64_Ehdr eh;
  if (file.size() < sizeof eh) in.fail("truncated ELF file");
  std::memcpy(&eh, file.data(), sizeof eh);
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr)) in.fail("not a 64-bit ELF file");
  std::vector<Piece> out;
  for (uint64_t i = 0; i < eh.e_phnum; ++i) {
    const uint64_t at = eh.e_phoff + i * sizeof(Elf64_Phdr);
    if (at > file.size() || sizeof(Elf64_Phdr) > file.size() - at) in.fail("truncated ELF program headers");
    Elf64_Phdr ph;
    std::memcpy(&ph, file.data() + at, sizeof ph);
    if (ph.p_type != PT_LOAD || ph.p_filesz == 0) continue;
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) in.fail("truncated ELF segment");
    out.push_back({ph.p_offset, ph.p_filesz});
  }
  return out;
}

}  // namespace

Reference read_reference(const std::string& label, const std::string& path) {
  internal::PageReader in(path, "reference");
  const std::span<const uint8_t> file = in.mapped();
  std::vector<Piece> pieces;
  Reference r;
  r.label = label;
  r.path = path;
  if (file.size() >= 6 && std::memcmp(file.data(), "070701", 6) == 0) {
    pieces = cpio_members(file, in);
    r.layout = "cpio members (" + std::to_string(pieces.size()) + ")";
  } else if (file.size() >= 4 && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0) {
    pieces = elf_segments(file, in);
    r.layout = "ELF segments";
  } else {
    pieces = {{0, file.size()}};
    r.layout = "file";
  }
  uint64_t total = 0;
  for (const Piece& p : pieces) total += p.bytes;
  const uint64_t zero = zero_page_hash();
  for (const Piece& p : pieces) {
    std::vector<uint64_t> hashes((p.bytes + kPageBytes - 1) / kPageBytes);
    in.hash_pages(p.offset, p.bytes, hashes.data(), nullptr, total);
    r.file_pages += hashes.size();
    for (const uint64_t h : hashes) {
      if (h != zero) r.pages.push_back(h);
    }
  }
  std::sort(r.pages.begin(), r.pages.end());
  r.pages.erase(std::unique(r.pages.begin(), r.pages.end()), r.pages.end());
  return r;
}

ReferenceMatch match_reference(const Fleet& fleet, const Reference& ref) {
  ReferenceMatch m;
  m.label = ref.label;
  m.reference_pages = ref.pages.size();
  internal::HashSet64 wanted;
  for (const uint64_t h : ref.pages) wanted.insert(h);
  std::vector<uint32_t> holders(ref.pages.size(), 0);  // VMs holding each reference page
  for (const Fingerprint& fp : fleet.vms) {
    if (fp.page_hashes.empty()) throw PlanError("--reference needs exact page sets (the fleet is sketched)");
    internal::HashSet64 seen;
    for (const uint64_t h : fp.page_hashes) {
      if (!wanted.contains(h)) continue;
      ++m.fleet_pages;
      if (seen.insert(h)) ++holders[static_cast<size_t>(std::lower_bound(ref.pages.begin(), ref.pages.end(), h) - ref.pages.begin())];
    }
  }
  for (const uint32_t n : holders) {
    m.found_pages += n > 0;
    m.in_every_vm += n == fleet.size();
  }
  return m;
}

}  // namespace densevm::planner
