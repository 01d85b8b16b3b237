// EptEntry: one entry of Intel's EPT paging structures (SDM Vol 3C §29.3.2, Tables 29-1 to
// 29-6), the format of every P2M table.
//
// The P2M keeps these in FrameStore frames exactly as a processor would read them through an
// EPTP with 4 levels and A/D enabled; the address field holds an Hpa. We map 4 KiB pages only,
// so PS is never set. The entry is hardware-present when any of R/W/X is set; it holds a
// frame (for our bookkeeping) when its address field is non-zero, which is unambiguous
// because FrameStore never hands out frame 0. That lets a subtree or page be made
// inaccessible (RWX = 0) without losing the table or page behind it.
//
//   EptEntry leaf = EptEntry::page(hpa, kEptRead | kEptWrite, EptMemType::kWriteBack);
//   bool writable = (leaf.perms() & kEptWrite) != 0;
//   leaf.set(EptEntry::kAccessed);
#pragma once

#include <cstdint>

#include "core/types.h"

namespace densevm {

// Access rights as in bits 2:0 of an entry and of an EPT-violation exit qualification.
using EptPerms = uint8_t;
inline constexpr EptPerms kEptNone = 0;
inline constexpr EptPerms kEptRead = 1;
inline constexpr EptPerms kEptWrite = 2;
inline constexpr EptPerms kEptExec = 4;
inline constexpr EptPerms kEptRw = kEptRead | kEptWrite;
inline constexpr EptPerms kEptRx = kEptRead | kEptExec;
inline constexpr EptPerms kEptRwx = kEptRead | kEptWrite | kEptExec;

// Write without read is an EPT misconfiguration (SDM §29.3.3.1); execute-only is allowed.
[[nodiscard]] constexpr bool ept_perms_valid(EptPerms perms) {
  return perms <= kEptRwx && ((perms & kEptWrite) == 0 || (perms & kEptRead) != 0);
}

// Leaf memory type, bits 5:3 (SDM Vol 3C §29.3.6, EPT and memory typing); 2, 3 and 7 are
// reserved (misconfiguration).
enum class EptMemType : uint8_t {
  kUncacheable = 0,
  kWriteCombining = 1,
  kWriteThrough = 4,
  kWriteProtected = 5,
  kWriteBack = 6,
};

[[nodiscard]] constexpr bool ept_memtype_valid(EptMemType type) {
  const auto t = static_cast<uint8_t>(type);
  return t == 0 || t == 1 || t == 4 || t == 5 || t == 6;
}

class EptEntry {
 public:
  static constexpr uint64_t kRead = uint64_t{1} << 0;       // R: reads allowed
  static constexpr uint64_t kWrite = uint64_t{1} << 1;      // W: writes allowed
  static constexpr uint64_t kExec = uint64_t{1} << 2;       // X: fetches (supervisor, with MBEC)
  static constexpr uint64_t kPermMask = kRead | kWrite | kExec;
  static constexpr unsigned kMemTypeShift = 3;              // 5:3 memory type, leaf only
  static constexpr uint64_t kMemTypeMask = uint64_t{7} << kMemTypeShift;
  static constexpr uint64_t kIgnorePat = uint64_t{1} << 6;  // IPAT: ignore guest PAT, leaf only
  static constexpr uint64_t kLargePage = uint64_t{1} << 7;  // PS: 1 GiB / 2 MiB leaf; unused
  static constexpr uint64_t kAccessed = uint64_t{1} << 8;   // A: set on use (EPTP bit 6)
  static constexpr uint64_t kDirty = uint64_t{1} << 9;      // D: leaf only, set on write
  static constexpr uint64_t kUserExec = uint64_t{1} << 10;  // XU: user fetches under MBEC; left 0
  static constexpr uint64_t kAddressMask = 0x000F'FFFF'FFFF'F000;  // 51:12 next table or page

  static constexpr unsigned kLevels = 4;  // PML4, PDPT, PD, PT

  constexpr EptEntry() = default;
  constexpr explicit EptEntry(uint64_t raw) : raw_(raw) {}

  // A non-leaf entry: full rights, so the leaf decides until someone restricts the subtree.
  [[nodiscard]] static constexpr EptEntry table_entry(Hpa table) {
    return EptEntry(table.value() | kPermMask);
  }
  [[nodiscard]] static constexpr EptEntry page(Hpa frame, EptPerms perms, EptMemType type) {
    return EptEntry(frame.value() | perms |
                    (uint64_t{static_cast<uint8_t>(type)} << kMemTypeShift));
  }

  [[nodiscard]] constexpr uint64_t raw() const { return raw_; }
  [[nodiscard]] constexpr EptPerms perms() const { return static_cast<EptPerms>(raw_ & kPermMask); }
  [[nodiscard]] constexpr bool present() const { return (raw_ & kPermMask) != 0; }
  [[nodiscard]] constexpr bool accessed() const { return (raw_ & kAccessed) != 0; }
  [[nodiscard]] constexpr bool dirty() const { return (raw_ & kDirty) != 0; }
  [[nodiscard]] constexpr EptMemType memtype() const {
    return static_cast<EptMemType>((raw_ & kMemTypeMask) >> kMemTypeShift);
  }
  constexpr void set(uint64_t bits) { raw_ |= bits; }
  constexpr void clear(uint64_t bits) { raw_ &= ~bits; }
  constexpr void set_perms(EptPerms perms) { raw_ = (raw_ & ~kPermMask) | perms; }

  // PageTableWalker's view.
  [[nodiscard]] constexpr bool holds_frame() const { return (raw_ & kAddressMask) != 0; }
  [[nodiscard]] constexpr Hpa frame() const { return Hpa(raw_ & kAddressMask); }
  [[nodiscard]] constexpr bool is_leaf(unsigned level) const {
    return level == 1 || ((level == 2 || level == 3) && (raw_ & kLargePage) != 0);
  }

 private:
  uint64_t raw_ = 0;
};

static_assert(sizeof(EptEntry) == 8, "an EPT entry is 8 bytes");
static_assert(kPageSize / sizeof(EptEntry) == 512, "512 entries per 4 KiB EPT table");
static_assert(EptEntry::kLevels * 9 + kPageShift == 48, "4 levels of 9-bit indices: 48-bit GPAs");
static_assert((EptEntry::kAddressMask & (EptEntry::kPermMask | EptEntry::kMemTypeMask |
                                         EptEntry::kIgnorePat | EptEntry::kLargePage |
                                         EptEntry::kAccessed | EptEntry::kDirty |
                                         EptEntry::kUserExec)) == 0,
              "control bits lie below the address field");
static_assert(!ept_perms_valid(kEptWrite) && ept_perms_valid(kEptExec));

}  // namespace densevm
