// LinuxKernel: a Linux kernel file as densevm boots it, a bzImage or a vmlinux ELF.
//
// A bzImage (what /boot/vmlinuz is) is checked against the x86 boot protocol
// (Documentation/arch/x86/boot.rst): the "HdrS" setup header at 0x202, version 2.12 or later
// (xloadflags, with XLF_KERNEL_64: the 64-bit entry at startup_64 = load address + 0x200),
// and the fields the loader needs (setup_sects, kernel_alignment, pref_address, init_size,
// cmdline_size, initrd_addr_max). Its protected-mode part is loaded as one block. A vmlinux
// is an ELF64 whose PT_LOAD segments go at their physical addresses, entered at e_entry
// (its startup_64). The file is hostile input: every failure throws std::runtime_error with
// one line.
//
//   LinuxKernel k = load_linux_kernel("build/linux/vmlinuz");
//   uint64_t at = k.load_address();      // pref_address, aligned
//   uint64_t rip = k.entry();            // at + 0x200
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "vmm/elf_loader.h"

namespace densevm {

struct LinuxKernel {
  enum class Format : uint8_t { kBzImage, kElf };
  Format format = Format::kElf;

  // bzImage: the setup header as in the file (from 0x1f1 to its end), copied into the zero
  // page at the same offset; the protected-mode code, loaded at load_address().
  std::vector<uint8_t> setup_header;
  std::vector<uint8_t> protected_mode;
  uint16_t version = 0;            // boot protocol, e.g. 0x020f
  uint64_t pref_address = 0;       // where the kernel prefers to run (2.10+)
  uint32_t kernel_alignment = 0;   // physical alignment a relocatable kernel needs
  bool relocatable = false;
  uint32_t init_size = 0;          // bytes the kernel needs from its load address while booting
  uint32_t initrd_addr_max = 0;    // highest address the initrd may end at, inclusive
  uint32_t cmdline_size = 0;       // longest command line, without the NUL

  // vmlinux: the ELF's segments and entry.
  ElfImage elf;

  [[nodiscard]] uint64_t load_address() const;
  [[nodiscard]] uint64_t entry() const;
  // The first byte past what the kernel occupies while it boots (load address + init_size
  // for a bzImage, the ELF's end for a vmlinux).
  [[nodiscard]] uint64_t end_address() const;
};

// Offsets in the setup header / zero page (boot.rst "THE REAL-MODE KERNEL HEADER").
inline constexpr uint64_t kSetupHeaderOffset = 0x1f1;
inline constexpr uint64_t kStartup64Offset = 0x200;  // startup_64 after the 32-bit entry

// Whether `file` starts like an ELF or a bzImage, to say which error to give.
[[nodiscard]] bool looks_like_bzimage(std::span<const uint8_t> file);

[[nodiscard]] LinuxKernel parse_linux_kernel(std::span<const uint8_t> file);
// Reads PATH (at most 1 GiB): "cannot open PATH: ..." or "PATH: <parse error>".
[[nodiscard]] LinuxKernel load_linux_kernel(const std::string& path);

}  // namespace densevm
