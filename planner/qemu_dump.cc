#include "planner/qemu_dump.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "planner/fingerprint.h"
#include "planner/memory_image.h"

namespace densevm::planner {
namespace {

constexpr uint64_t kMaxPages = uint64_t{1} << 28;  // 1 TiB of guest RAM
constexpr uint64_t kMaxSegments = uint64_t{1} << 20;

[[noreturn]] void refuse(const std::string& why) { throw ImageError(why); }

template <class T>
T read_at(std::span<const uint8_t> file, uint64_t offset, const char* what) {
  if (offset > file.size() || sizeof(T) > file.size() - offset) refuse(std::string("truncated ELF core (") + what + ")");
  T v;
  std::memcpy(&v, file.data() + offset, sizeof(T));
  return v;
}

uint64_t align4(uint64_t n) { return (n + 3) & ~uint64_t{3}; }

// Counts the QEMU notes and finds VMCOREINFO in one PT_NOTE segment.
void scan_notes(std::span<const uint8_t> file, const Elf64_Phdr& ph, QemuDumpLayout& out) {
  if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) refuse("truncated ELF core (notes)");
  const std::span<const uint8_t> notes = file.subspan(ph.p_offset, ph.p_filesz);
  uint64_t at = 0;
  while (notes.size() - at >= sizeof(Elf64_Nhdr)) {
    const auto nh = read_at<Elf64_Nhdr>(notes, at, "note header");
    at += sizeof(Elf64_Nhdr);
    const uint64_t name_bytes = align4(nh.n_namesz);
    const uint64_t desc_bytes = align4(nh.n_descsz);
    if (name_bytes > notes.size() - at || desc_bytes > notes.size() - at - name_bytes) refuse("truncated ELF core (a note)");
    const std::string name(reinterpret_cast<const char*>(notes.data() + at), strnlen(reinterpret_cast<const char*>(notes.data() + at), nh.n_namesz));
    if (name == "QEMU") ++out.cpus;
    if (name == "VMCOREINFO") out.vmcoreinfo = true;
    at += name_bytes + desc_bytes;
  }
}

}  // namespace

QemuDumpLayout parse_qemu_dump(std::span<const uint8_t> file) {
  const auto eh = read_at<Elf64_Ehdr>(file, 0, "ELF header");
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) refuse("not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64) {
    refuse("not a little-endian x86-64 ELF file");
  }
  if (eh.e_type != ET_CORE) refuse("an ELF file but not a core dump");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) refuse("ELF core with a bad program header size");
  uint64_t phnum = eh.e_phnum;
  if (phnum == PN_XNUM) {
    // More segments than e_phnum holds: the count is in section header 0 (dump.c does this).
    if (eh.e_shoff == 0) refuse("ELF core with PN_XNUM segments but no section header");
    phnum = read_at<Elf64_Shdr>(file, eh.e_shoff, "section header").sh_info;
  }
  if (phnum > kMaxSegments) refuse("ELF core with too many segments");
  QemuDumpLayout out;
  std::vector<DumpSegment> loads;
  for (uint64_t i = 0; i < phnum; ++i) {
    const auto ph = read_at<Elf64_Phdr>(file, eh.e_phoff + i * sizeof(Elf64_Phdr), "program headers");
    if (ph.p_type == PT_NOTE) scan_notes(file, ph, out);
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    // dump.c writes p_offset -1 and no bytes for a mapping outside a `begin`/`length` filter:
    // memory the dump does not hold is not RAM the planner can count.
    if (ph.p_filesz == 0 && ph.p_offset == ~uint64_t{0}) continue;
    if (ph.p_paddr % kPageBytes != 0 || ph.p_memsz % kPageBytes != 0) refuse("ELF core segment not page aligned");
    if (ph.p_filesz > ph.p_memsz) refuse("ELF core segment holds more bytes than its memory size");
    if (ph.p_paddr > ~uint64_t{0} - ph.p_memsz) refuse("ELF core segment runs past the address space");
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) {
      refuse("truncated ELF core (a segment runs past the end of the file)");
    }
    loads.push_back({ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz});
  }
  if (out.cpus == 0) refuse("an ELF core but not a QEMU guest memory dump (no QEMU note)");
  if (loads.empty()) refuse("QEMU dump without guest memory (no PT_LOAD segment)");
  std::stable_sort(loads.begin(), loads.end(), [](const DumpSegment& a, const DumpSegment& b) { return a.paddr < b.paddr; });
  uint64_t end = 0, pages = 0, held = 0;
  for (DumpSegment s : loads) {
    if (!out.segments.empty() && s.paddr < end) {
      // An overlap (paging dumps map one physical page at several virtual addresses): the
      // page was taken from the first segment holding it.
      const uint64_t skip = std::min(end - s.paddr, s.memsz);
      s.paddr += skip;
      s.memsz -= skip;
      const uint64_t file_skip = std::min(skip, s.filesz);
      s.offset += file_skip;
      s.filesz -= file_skip;
      if (s.memsz == 0) continue;
    }
    end = s.paddr + s.memsz;
    pages += s.memsz / kPageBytes;
    held += (s.filesz + kPageBytes - 1) / kPageBytes;
    if (pages > kMaxPages) refuse("QEMU dump of more than 1 TiB of guest memory");
    out.segments.push_back(s);
  }
  // The reader keeps a hash per page described; pages past p_filesz are in no file byte, and
  // a dump describes few of them (a mapping that runs past its RAM block): at most as many as
  // it holds, so that a header of a few bytes cannot make the reader build a table of 2 GiB.
  if (pages - held > held) {
    refuse("QEMU dump describes " + std::to_string(pages - held) + " pages past its segments' bytes, more than the " +
           std::to_string(held) + " it holds");
  }
  return out;
}

}  // namespace densevm::planner
