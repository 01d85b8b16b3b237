#include "vmm/linux/linux_kernel.h"

#include <cstring>
#include <stdexcept>

#include "vmm/file_bytes.h"
#include "vmm/internal/hex.h"

namespace densevm {
namespace {

// Setup header fields (boot.rst, "THE REAL-MODE KERNEL HEADER"): file offsets.
constexpr uint64_t kSetupSects = 0x1f1;
constexpr uint64_t kBootFlag = 0x1fe;
constexpr uint64_t kJump = 0x200;
constexpr uint64_t kHeaderMagic = 0x202;
constexpr uint64_t kVersion = 0x206;
constexpr uint64_t kLoadflags = 0x211;
constexpr uint64_t kInitrdAddrMax = 0x22c;
constexpr uint64_t kKernelAlignment = 0x230;
constexpr uint64_t kRelocatable = 0x234;
constexpr uint64_t kXloadflags = 0x236;
constexpr uint64_t kCmdlineSize = 0x238;
constexpr uint64_t kPrefAddress = 0x258;
constexpr uint64_t kInitSize = 0x260;

constexpr uint16_t kMinVersion = 0x020c;  // 2.12: xloadflags, so the 64-bit entry is known
constexpr uint8_t kLoadedHigh = 0x01;     // loadflags: protected-mode code at 0x100000+
constexpr uint16_t kXlfKernel64 = 0x01;   // xloadflags: startup_64 at +0x200
constexpr uint64_t kMiB = uint64_t{1} << 20;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

template <typename T>
T field(std::span<const uint8_t> file, uint64_t offset) {
  T v;
  std::memcpy(&v, file.data() + offset, sizeof v);
  return v;
}

LinuxKernel parse_bzimage(std::span<const uint8_t> file) {
  if (file.size() < kHeaderMagic + 6) fail("truncated bzImage: no room for the setup header");
  LinuxKernel k;
  k.format = LinuxKernel::Format::kBzImage;
  k.version = field<uint16_t>(file, kVersion);
  const std::string version = std::to_string(k.version >> 8) + "." + std::to_string(k.version & 0xff);
  if (k.version < kMinVersion) {
    fail("bzImage boot protocol " + version + " is too old: densevm needs 2.12 or later (64-bit entry)");
  }
  // The header ends where the jump at 0x200 lands: 0x202 + its 8-bit displacement.
  const uint64_t header_end = kHeaderMagic + file[kJump + 1];
  if (header_end <= kInitSize + 4 || header_end > file.size()) {
    fail("corrupt bzImage setup header: it ends at " + hex(header_end) + " (protocol " + version + ")");
  }
  if (field<uint16_t>(file, kBootFlag) != 0xaa55) fail("corrupt bzImage setup header: no 0xAA55 boot flag");
  if (!(field<uint16_t>(file, kXloadflags) & kXlfKernel64)) {
    fail("bzImage has no 64-bit entry point (xloadflags lacks XLF_KERNEL_64)");
  }
  if (!(file[kLoadflags] & kLoadedHigh)) fail("bzImage is a zImage (loaded low): not supported");
  const uint64_t setup_sects = file[kSetupSects] == 0 ? 4 : file[kSetupSects];
  const uint64_t code_offset = (setup_sects + 1) * 512;
  if (code_offset < header_end || code_offset >= file.size()) {
    fail("corrupt bzImage setup header: " + std::to_string(setup_sects) + " setup sectors, file of " +
         std::to_string(file.size()) + " bytes");
  }
  k.relocatable = file[kRelocatable] != 0;
  k.kernel_alignment = field<uint32_t>(file, kKernelAlignment);
  if (k.relocatable && (k.kernel_alignment < 4096 || (k.kernel_alignment & (k.kernel_alignment - 1)))) {
    fail("corrupt bzImage setup header: kernel_alignment " + hex(k.kernel_alignment) + " is not a power of two");
  }
  k.pref_address = field<uint64_t>(file, kPrefAddress);
  if (k.pref_address < kMiB || k.pref_address >= (uint64_t{1} << 32)) {
    fail("corrupt bzImage setup header: pref_address " + hex(k.pref_address) + " is not between 1 MiB and 4 GiB");
  }
  k.init_size = field<uint32_t>(file, kInitSize);
  k.protected_mode.assign(file.begin() + static_cast<ptrdiff_t>(code_offset), file.end());
  if (k.init_size < k.protected_mode.size()) {
    fail("corrupt bzImage setup header: init_size " + hex(k.init_size) + " is smaller than the kernel (" +
         hex(k.protected_mode.size()) + " bytes)");
  }
  k.initrd_addr_max = field<uint32_t>(file, kInitrdAddrMax);
  k.cmdline_size = field<uint32_t>(file, kCmdlineSize);
  k.setup_header.assign(file.begin() + kSetupHeaderOffset, file.begin() + static_cast<ptrdiff_t>(header_end));
  return k;
}

}  // namespace

uint64_t LinuxKernel::load_address() const {
  if (format == Format::kElf) return elf.lowest_paddr;
  if (!relocatable) return pref_address;
  const uint64_t a = kernel_alignment;
  return (pref_address + a - 1) & ~(a - 1);
}

uint64_t LinuxKernel::entry() const {
  return format == Format::kElf ? elf.entry : load_address() + kStartup64Offset;
}

uint64_t LinuxKernel::end_address() const {
  return format == Format::kElf ? elf.end_paddr : load_address() + init_size;
}

bool looks_like_bzimage(std::span<const uint8_t> file) {
  return file.size() >= kHeaderMagic + 4 && std::memcmp(file.data() + kHeaderMagic, "HdrS", 4) == 0;
}

LinuxKernel parse_linux_kernel(std::span<const uint8_t> file) {
  if (looks_like_bzimage(file)) return parse_bzimage(file);
  if (file.size() >= 4 && std::memcmp(file.data(), "\x7f" "ELF", 4) == 0) {
    LinuxKernel k;
    k.format = LinuxKernel::Format::kElf;
    k.elf = parse_elf(file);
    if (k.elf.lowest_paddr < kMiB) fail("vmlinux loads below 1 MiB, where the boot structures live");
    if (k.elf.entry < k.elf.lowest_paddr || k.elf.entry >= k.elf.end_paddr) {
      fail("vmlinux entry " + hex(k.elf.entry) + " is not a physical address inside the kernel");
    }
    k.initrd_addr_max = 0x7fffffff;  // what boot.rst says to assume without a header
    k.cmdline_size = 2047;           // COMMAND_LINE_SIZE on x86, less the NUL
    return k;
  }
  fail("not a Linux kernel: neither an ELF file nor a bzImage (no HdrS setup header)");
}

LinuxKernel load_linux_kernel(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  try {
    return parse_linux_kernel(bytes);
  } catch (const std::runtime_error& e) {
    fail(path + ": " + e.what());
  }
}

}  // namespace densevm
