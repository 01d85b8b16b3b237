// X86Pte: one entry of x86-64 4-level paging (SDM Vol 3A §4.5, Tables 4-15 to 4-20).
//
// The same format serves the guest's own page tables (the address field is a Gpa, read by
// the nested walker) and our host-format shadow tables (the address field is an Hpa, kept in
// FrameStore frames and handled by PageTableWalker<X86Pte>).
//
//   X86Pte pte(X86Pte::kPresent | X86Pte::kWritable | 0x5000);
//   bool ok = pte.present() && (pte.raw() & x86_reserved_bits(1, false, 46, true)) == 0;
//   X86Pte table = X86Pte::table_entry(Hpa{0x7000});   // P|W|U: the leaf decides
#pragma once

#include <cstdint>

#include "core/types.h"

namespace densevm {

// MAXPHYADDR the guest is told about (CPUID.80000008H:EAX[7:0]): address bits at and above
// it are reserved in every paging-structure entry.
inline constexpr unsigned kGuestMaxPhysAddrBits = 46;

class X86Pte {
 public:
  static constexpr uint64_t kPresent = uint64_t{1} << 0;       // P
  static constexpr uint64_t kWritable = uint64_t{1} << 1;      // R/W: 0 = read-only
  static constexpr uint64_t kUser = uint64_t{1} << 2;          // U/S: 1 = user-mode accessible
  static constexpr uint64_t kWriteThrough = uint64_t{1} << 3;  // PWT
  static constexpr uint64_t kCacheDisable = uint64_t{1} << 4;  // PCD
  static constexpr uint64_t kAccessed = uint64_t{1} << 5;      // A: set on first use
  static constexpr uint64_t kDirty = uint64_t{1} << 6;         // D: leaf only, set on first write
  static constexpr uint64_t kPageSize = uint64_t{1} << 7;      // PS (PDPTE, PDE); PAT in a PTE
  static constexpr uint64_t kGlobal = uint64_t{1} << 8;        // G: leaf only, kept over CR3 loads
  static constexpr uint64_t kLargePat = uint64_t{1} << 12;     // PAT of a 1 GiB / 2 MiB page
  static constexpr uint64_t kNoExecute = uint64_t{1} << 63;    // XD with EFER.NXE, else reserved
  static constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000;  // 51:12

  static constexpr unsigned kLevels = 4;  // PML4, PDPT, PD, PT

  constexpr X86Pte() = default;
  constexpr explicit X86Pte(uint64_t raw) : raw_(raw) {}

  // A non-leaf entry of a host-format table: full rights, so the leaf decides.
  [[nodiscard]] static constexpr X86Pte table_entry(Hpa table) {
    return X86Pte(table.value() | kPresent | kWritable | kUser);
  }

  [[nodiscard]] constexpr uint64_t raw() const { return raw_; }
  [[nodiscard]] constexpr bool present() const { return (raw_ & kPresent) != 0; }
  [[nodiscard]] constexpr bool writable() const { return (raw_ & kWritable) != 0; }
  [[nodiscard]] constexpr bool user() const { return (raw_ & kUser) != 0; }
  [[nodiscard]] constexpr bool accessed() const { return (raw_ & kAccessed) != 0; }
  [[nodiscard]] constexpr bool dirty() const { return (raw_ & kDirty) != 0; }
  [[nodiscard]] constexpr bool no_execute() const { return (raw_ & kNoExecute) != 0; }
  // Address field of a table pointer or a 4 KiB page (assumes reserved bits are clear).
  [[nodiscard]] constexpr uint64_t address() const { return raw_ & kAddressMask; }
  // Base of the page a leaf at `level` maps (drops the large-page PAT bit).
  [[nodiscard]] constexpr uint64_t page_base(unsigned level) const {
    return raw_ & kAddressMask & ~((uint64_t{1} << (kPageShift + 9 * (level - 1))) - 1);
  }
  constexpr void set(uint64_t bits) { raw_ |= bits; }
  constexpr void clear(uint64_t bits) { raw_ &= ~bits; }

  // PageTableWalker's view of a host-format table.
  [[nodiscard]] constexpr bool holds_frame() const { return present(); }
  [[nodiscard]] constexpr Hpa frame() const { return Hpa(address()); }
  [[nodiscard]] constexpr bool is_leaf(unsigned level) const {
    return level == 1 || ((level == 2 || level == 3) && (raw_ & kPageSize) != 0);
  }

 private:
  uint64_t raw_ = 0;
};

// Bits that must be 0 in a present entry at `level` (4 = PML4E .. 1 = PTE); `large` is the
// entry's PS bit at level 3 or 2. SDM Vol 3A §4.5.4: address bits 51:MAXPHYADDR everywhere,
// XD without EFER.NXE, PS in a PML4E, 29:13 of a 1 GiB page, 20:13 of a 2 MiB page.
[[nodiscard]] constexpr uint64_t x86_reserved_bits(unsigned level, bool large, unsigned maxphyaddr,
                                                   bool nxe) {
  uint64_t reserved = X86Pte::kAddressMask & ~((uint64_t{1} << maxphyaddr) - 1);
  if (!nxe) reserved |= X86Pte::kNoExecute;
  if (level == 4) reserved |= X86Pte::kPageSize;
  if (large && level == 3) reserved |= 0x3FFF'E000;  // 29:13
  if (large && level == 2) reserved |= 0x001F'E000;  // 20:13
  return reserved;
}

static_assert(sizeof(X86Pte) == 8, "an x86-64 paging entry is 8 bytes");
static_assert(kPageSize / sizeof(X86Pte) == 512, "512 entries per 4 KiB table");
static_assert(X86Pte::kLevels * 9 + kPageShift == 48, "4 levels of 9-bit indices cover 48 bits");
static_assert(x86_reserved_bits(1, false, 52, true) == 0, "nothing reserved in a PTE at 52 bits");
static_assert(x86_reserved_bits(2, true, 52, true) == 0x1F'E000);

}  // namespace densevm
