// The layout of a QEMU `dump-guest-memory` ELF core (QEMU's dump/dump.c; docs/specs in
// QEMU's tree describe the notes): an ELF64 ET_CORE whose first program header is a PT_NOTE
// — per vCPU an NT_PRSTATUS note named "CORE" and a QEMUCPUState note named "QEMU", then the
// guest's VMCOREINFO if it set one — followed by one PT_LOAD per guest RAM block, p_paddr its
// guest-physical address, p_filesz of its bytes in the file and p_memsz - p_filesz more that
// read as zero. More than 65534 segments put PN_XNUM in e_phnum and the count in the first
// section header's sh_info. A dump with `paging: true` has one PT_LOAD per guest virtual
// mapping instead; their physical ranges may overlap, and a page is taken once.
//
// An ELF core without the QEMU note (a process core, another hypervisor's dump) is refused:
// its segments need not be guest RAM. So is a dump describing more zero pages (past p_filesz)
// than pages it holds: what the reader allocates stays proportional to the file.
//
//   QemuDumpLayout layout = parse_qemu_dump(mapped_file);   // throws ImageError
//   for (const DumpSegment& s : layout.segments) ...        // by paddr, not overlapping
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace densevm::planner {

struct DumpSegment {
  uint64_t paddr = 0;   // page aligned
  uint64_t offset = 0;  // of its first byte in the file
  uint64_t filesz = 0;  // bytes in the file; the rest of memsz reads as zero
  uint64_t memsz = 0;   // a whole number of pages
};

struct QemuDumpLayout {
  std::vector<DumpSegment> segments;  // ascending paddr, overlaps removed
  unsigned cpus = 0;                  // QEMU notes (one per vCPU)
  bool vmcoreinfo = false;            // the guest's VMCOREINFO note is there
};

// `file` is the whole dump (headers and notes are read from it, never the memory).
[[nodiscard]] QemuDumpLayout parse_qemu_dump(std::span<const uint8_t> file);

}  // namespace densevm::planner
