// ElfLoader: reads the PT_LOAD segments of an ELF64 x86-64 kernel image.
//
// The guest kernel is linked at physical addresses, so segments are placed by p_paddr. The
// file is hostile input: every offset and size is bounds-checked with checked arithmetic, and
// anything wrong throws std::runtime_error with one clear line (this runs at the CLI edge).
//
//   ElfImage image = load_elf_file("guest.elf");
//   for (const ElfSegment& s : image.segments) memory.write(Gpa{s.paddr}, s.bytes);
//   cpu.state().rip = image.entry;
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace densevm {

struct ElfSegment {
  uint64_t paddr = 0;
  uint64_t memsz = 0;
  std::vector<uint8_t> bytes;  // filesz bytes; the rest up to memsz is zero
};

struct ElfImage {
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;
  uint64_t lowest_paddr = 0;
  uint64_t end_paddr = 0;  // max paddr + memsz
};

// Parses an ELF64 x86-64 executable's PT_LOAD segments; throws std::runtime_error on anything
// malformed and never reads outside `file`.
[[nodiscard]] ElfImage parse_elf(std::span<const uint8_t> file);

// Reads and parses PATH: "cannot open PATH: <strerror>" or "PATH: <parse error>".
[[nodiscard]] ElfImage load_elf_file(const std::string& path);

}  // namespace densevm
