// GuestImage: what a VM boots. Either a kernel on densevm's own direct boot (an ELF with a
// PVH-style start info: the built-in guest), or a Linux kernel (bzImage or vmlinux) with
// its initrd on Linux's 64-bit boot protocol and the ACPI-described platform.
//
//   GuestImage image = LinuxGuest{load_linux_kernel("vmlinuz"), read_file_bytes("initrd")};
//   std::visit([&](const auto& g) { vms.push_back(std::make_unique<Vm>(frames, g, config, sink)); }, image);
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "vmm/elf_loader.h"
#include "vmm/linux/linux_kernel.h"

namespace densevm {

struct LinuxGuest {
  LinuxKernel kernel;
  std::vector<uint8_t> initrd;  // empty: none
};

using GuestImage = std::variant<ElfImage, LinuxGuest>;

}  // namespace densevm
