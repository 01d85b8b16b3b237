// ELF cores laid out as QEMU's dump/dump.c lays them out — header, PT_NOTE, one PT_LOAD per
// RAM block, the notes, the memory — for the planner's tests and its fuzz target's seeds.
//
//   std::vector<uint8_t> core = elf_core({{0, bytes, bytes.size()}}, {"CORE", "QEMU"});
#pragma once

#include <elf.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/support/tiny_elf.h"

namespace densevm::planner::testing {

struct Load {
  uint64_t paddr;
  std::vector<uint8_t> bytes;  // p_filesz of them
  uint64_t memsz;
};

// With pn_xnum, e_phnum is PN_XNUM and the count is in section header 0, as dump.c writes it
// for more than 65534 segments.
inline std::vector<uint8_t> elf_core(const std::vector<Load>& loads, const std::vector<std::string>& note_names,
                                     uint16_t type = ET_CORE, bool pn_xnum = false) {
  std::vector<uint8_t> notes;
  for (const std::string& name : note_names) {
    Elf64_Nhdr nh{static_cast<Elf64_Word>(name.size() + 1), 16, 0};
    notes.insert(notes.end(), reinterpret_cast<uint8_t*>(&nh), reinterpret_cast<uint8_t*>(&nh) + sizeof nh);
    std::vector<uint8_t> n(name.begin(), name.end());
    n.resize((name.size() + 1 + 3) & ~size_t{3}, 0);
    notes.insert(notes.end(), n.begin(), n.end());
    notes.insert(notes.end(), 16, 0xab);
  }
  const size_t phnum = 1 + loads.size();
  const size_t shdr = pn_xnum ? sizeof(Elf64_Shdr) : 0;
  const uint64_t notes_at = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr) + shdr;
  uint64_t data_at = notes_at + notes.size();
  Elf64_Ehdr eh = densevm::testing::elf64_header(type);
  eh.e_phnum = pn_xnum ? PN_XNUM : static_cast<Elf64_Half>(phnum);
  if (pn_xnum) {
    eh.e_shoff = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 1;
  }
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(&eh), reinterpret_cast<uint8_t*>(&eh) + sizeof eh);
  // resize and memcpy: GCC 12 at -O3 sees a false array-bounds overflow in vector::insert here.
  auto put = [&out](const auto& v) {
    const size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
  };
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = notes_at;
  note.p_filesz = note.p_memsz = notes.size();
  put(note);
  for (const Load& l : loads) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_offset = data_at;
    ph.p_paddr = ph.p_vaddr = l.paddr;
    ph.p_filesz = l.bytes.size();
    ph.p_memsz = l.memsz;
    put(ph);
    data_at += l.bytes.size();
  }
  if (pn_xnum) {
    Elf64_Shdr sh{};
    sh.sh_info = static_cast<Elf64_Word>(phnum);
    put(sh);
  }
  out.insert(out.end(), notes.begin(), notes.end());
  for (const Load& l : loads) out.insert(out.end(), l.bytes.begin(), l.bytes.end());
  return out;
}

}  // namespace densevm::planner::testing
