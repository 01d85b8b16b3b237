#include "vmm/elf_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "vmm/file_bytes.h"
#include "vmm/internal/hex.h"

namespace densevm {
namespace {

// Far beyond any kernel we boot; bounds the work a hostile header can ask for.
constexpr uint16_t kMaxProgramHeaders = 1024;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

// Headers are copied out, never cast in place: the file buffer has no alignment guarantee.
template <typename T>
T read_struct(std::span<const uint8_t> file, uint64_t offset) {
  T out;
  std::memcpy(&out, file.data() + offset, sizeof out);
  return out;
}

Elf64_Ehdr read_header(std::span<const uint8_t> file) {
  if (file.size() < SELFMAG || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0)
    fail("not an ELF file");
  if (file.size() <= EI_CLASS) fail("truncated ELF file: no class byte");
  if (file[EI_CLASS] == ELFCLASS32) fail("32-bit ELF file: densevm boots ELF64 x86-64 kernels");
  if (file[EI_CLASS] != ELFCLASS64)
    fail("ELF file has unknown class " + std::to_string(file[EI_CLASS]));
  if (file.size() <= EI_DATA) fail("truncated ELF file: no data-encoding byte");
  if (file[EI_DATA] != ELFDATA2LSB) fail("big-endian ELF file: densevm boots ELF64 x86-64 kernels");
  if (file.size() < sizeof(Elf64_Ehdr)) {
    fail("truncated ELF file: the header needs " + std::to_string(sizeof(Elf64_Ehdr)) +
         " bytes, the file has " + std::to_string(file.size()));
  }
  auto eh = read_struct<Elf64_Ehdr>(file, 0);
  if (eh.e_machine != EM_X86_64)
    fail("ELF file is for machine " + std::to_string(eh.e_machine) + ", not x86-64");
  if (eh.e_type != ET_EXEC)
    fail("ELF file is not an executable (type " + std::to_string(eh.e_type) + ")");
  if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
    fail("ELF program header entries are " + std::to_string(eh.e_phentsize) + " bytes, expected " +
         std::to_string(sizeof(Elf64_Phdr)));
  }
  // PN_XNUM (extended numbering) is also caught here: no kernel needs 65535 headers.
  if (eh.e_phnum > kMaxProgramHeaders) {
    fail("ELF file claims " + std::to_string(eh.e_phnum) + " program headers (at most " +
         std::to_string(kMaxProgramHeaders) + " supported)");
  }
  uint64_t table_end = 0;
  if (__builtin_add_overflow(eh.e_phoff, uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr), &table_end) ||
      table_end > file.size()) {
    fail("truncated ELF file: program headers at offset " + hex(eh.e_phoff) +
         " run past the end (" + std::to_string(file.size()) + " bytes)");
  }
  return eh;
}

ElfSegment read_segment(std::span<const uint8_t> file, const Elf64_Phdr& ph, unsigned index) {
  const std::string name =
      "ELF segment " + std::to_string(index) + " (paddr " + hex(ph.p_paddr) + ")";
  if (ph.p_filesz > ph.p_memsz)
    fail(name + " has filesz " + hex(ph.p_filesz) + " > memsz " + hex(ph.p_memsz));
  uint64_t file_end = 0;
  if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &file_end) || file_end > file.size()) {
    fail(name + " lies past the end of the file (offset " + hex(ph.p_offset) + ", filesz " +
         hex(ph.p_filesz) + ")");
  }
  uint64_t mem_end = 0;
  if (__builtin_add_overflow(ph.p_paddr, ph.p_memsz, &mem_end))
    fail(name + " overflows the address space");
  const auto* begin = file.data() + ph.p_offset;
  return ElfSegment{ph.p_paddr, ph.p_memsz, std::vector<uint8_t>(begin, begin + ph.p_filesz)};
}

}  // namespace

ElfImage parse_elf(std::span<const uint8_t> file) {
  const Elf64_Ehdr eh = read_header(file);
  ElfImage image;
  image.entry = eh.e_entry;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    auto ph = read_struct<Elf64_Phdr>(file, eh.e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    image.segments.push_back(read_segment(file, ph, i));
  }
  if (image.segments.empty()) fail("ELF file has no PT_LOAD segment");

  // Overlapping segments would make the load order matter; no linker produces them.
  std::vector<const ElfSegment*> by_paddr;
  for (const ElfSegment& s : image.segments) by_paddr.push_back(&s);
  std::sort(by_paddr.begin(), by_paddr.end(), [](auto* a, auto* b) { return a->paddr < b->paddr; });
  for (size_t i = 1; i < by_paddr.size(); ++i) {
    if (by_paddr[i - 1]->paddr + by_paddr[i - 1]->memsz > by_paddr[i]->paddr) {
      fail("ELF segments at paddr " + hex(by_paddr[i - 1]->paddr) + " and " +
           hex(by_paddr[i]->paddr) + " overlap");
    }
  }
  image.lowest_paddr = by_paddr.front()->paddr;
  for (const ElfSegment& s : image.segments)
    image.end_paddr = std::max(image.end_paddr, s.paddr + s.memsz);
  return image;
}

ElfImage load_elf_file(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return parse_elf(bytes);
  } catch (const std::runtime_error& e) {
    fail(path + ": " + e.what());
  }
}

}  // namespace densevm
