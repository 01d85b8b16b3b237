// Mmu: how a vCPU turns a guest virtual address into host memory on a soft-TLB miss.
//
// The vCPU keeps a soft TLB in front and asks the Mmu only on a miss. An implementation
// (nested 2D walk, shadow tables) resolves EPT violations it can handle itself (demand
// paging, copy-on-write) and returns one of four outcomes as a value.
//
//   Translation t = mmu.translate(Gva{va}, Access::kWrite, ctx);
//   if (t.kind == Translation::Kind::kRam) memcpy(t.host_page + (va & kPageMask), src, n);
//   else if (t.kind == Translation::Kind::kPageFault) inject_pf(va, t.error_code);
#pragma once

#include <cstdint>
#include <string>

#include "core/access.h"
#include "core/types.h"

namespace densevm {

// Paging controls the walk depends on, copied from the vCPU at each miss.
struct PagingContext {
  uint64_t cr3 = 0;
  bool user = false;      // CPL 3 access
  bool wp = true;         // CR0.WP: supervisor writes honour read-only pages
  bool nxe = false;       // EFER.NXE: the XD bit is honoured
  bool paging = true;     // CR0.PG
};

// x86 #PF error code bits (SDM Vol 3A §4.7).
inline constexpr uint32_t kPfPresent = 1u << 0;
inline constexpr uint32_t kPfWrite = 1u << 1;
inline constexpr uint32_t kPfUser = 1u << 2;
inline constexpr uint32_t kPfReserved = 1u << 3;
inline constexpr uint32_t kPfFetch = 1u << 4;

struct Translation {
  enum class Kind : uint8_t {
    kRam,        // host_page points at the 4 KiB page backing the address
    kMmio,       // the address is device space at gpa; the access goes to the device bus
    kPageFault,  // the guest's own tables say no: inject #PF(error_code), CR2 = address
    kFatal,      // the VMM cannot serve the access (host out of memory, a snapshot page fails its
                 // checksum): stop this VM. Memory outside RAM is never fatal (UNDEFINED.md)
  };
  Kind kind = Kind::kFatal;
  // The combined permissions of the whole translation (guest AND host), for the soft TLB.
  bool writable = false;
  bool user = false;
  bool executable = false;
  // The page is write-tracked (guest page table, cached code): writes must take the slow
  // path and be reported through WriteTracker::on_tracked_write.
  bool write_tracked = false;
  uint8_t* host_page = nullptr;
  Gpa gpa;  // page-aligned for kRam, exact for kMmio
  uint32_t error_code = 0;
  std::string reason;  // kFatal only
};

class Mmu {
 public:
  virtual ~Mmu() = default;

  // Resolves one access. Must not throw; every guest input maps to one of the outcomes.
  [[nodiscard]] virtual Translation translate(Gva va, Access access, const PagingContext& ctx) = 0;

  // INVLPG of one address, and CR3 loads: the soft TLB is flushed by the vCPU itself.
  virtual void invlpg(Gva va, const PagingContext& ctx) = 0;
  virtual void cr3_loaded(const PagingContext& ctx) = 0;

  [[nodiscard]] virtual const char* mode_name() const = 0;
};

// Receives guest writes to write-tracked pages after they are performed.
class WriteTracker {
 public:
  virtual ~WriteTracker() = default;
  virtual void on_tracked_write(Gpa gpa, unsigned size) = 0;
};

}  // namespace densevm
