// Builds a minimal ELF64 x86-64 executable around raw code bytes, for tests that boot a
// hand-written guest: one PT_LOAD at `paddr` (also the entry point).
//
//   std::vector<uint8_t> elf = tiny_elf({0xf4});   // hlt
//   ElfImage img = parse_elf(elf);
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace densevm::testing {

// An ELF64 little-endian x86-64 file header of `type` (ET_EXEC, ET_CORE) with no program or
// section headers counted yet; e_phoff points right after it.
inline Elf64_Ehdr elf64_header(uint16_t type) {
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = type;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  return eh;
}

inline std::vector<uint8_t> tiny_elf(const std::vector<uint8_t>& code, uint64_t paddr = 0x100000) {
  Elf64_Ehdr eh = elf64_header(ET_EXEC);
  eh.e_entry = paddr;
  eh.e_phnum = 1;
  Elf64_Phdr ph{};
  ph.p_type = PT_LOAD;
  ph.p_flags = PF_R | PF_X;
  ph.p_offset = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
  ph.p_vaddr = ph.p_paddr = paddr;
  ph.p_filesz = ph.p_memsz = code.size();
  ph.p_align = 0x1000;
  std::vector<uint8_t> out(sizeof eh + sizeof ph + code.size());
  std::memcpy(out.data(), &eh, sizeof eh);
  std::memcpy(out.data() + sizeof eh, &ph, sizeof ph);
  if (!code.empty()) std::memcpy(out.data() + sizeof eh + sizeof ph, code.data(), code.size());
  return out;
}

}  // namespace densevm::testing
