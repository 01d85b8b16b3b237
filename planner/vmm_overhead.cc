#include "planner/vmm_overhead.h"

namespace densevm::planner {

const char* guest_code_name(GuestCode c) { return c == GuestCode::kLinux ? "linux" : "small"; }

// Fitted to bench/vmm_overhead.sh (BENCHMARKS.md, "The VMM's own memory per VM": AMD EPYC,
// 2026-12-06): the marginal VMM memory of one more VM, --cpu auto, --mmu auto (shadow).
// fixed: 8 memfill VMs of 64 MiB (3.56 MiB each) less their tables and code; table_ppm: the
// slope from 32 to 384 MiB of guest memory written (shadow tables, their reverse maps and
// the P2M: 2.7%); code: 4 booted Linux VMs of 128 MiB (89.9 MiB each, 87 MiB of guest
// frames) less the rest; clone code: 8 clones of a booted Linux, --share-translations on
// (29.4 MiB each) less the rest; small: the decode caches and translations of memfill and
// compute (0.53-0.55 MiB). The decode cache these were measured with (32 KiB of slots per
// code page) is being replaced by a compact, bounded one: refit when it lands.
VmmOverhead VmmOverhead::model(GuestCode code) {
  constexpr uint64_t kKiB = 1024;
  const bool is_linux = code == GuestCode::kLinux;
  return {.kind = Kind::kModel,
          .fixed_bytes = 2048 * kKiB,
          .table_ppm = 27'000,
          .code_bytes = (is_linux ? 87640 : 560) * kKiB,
          .clone_code_bytes = (is_linux ? 25680 : 560) * kKiB,
          .code = code};
}

uint64_t VmmOverhead::vm_bytes(const Fingerprint& fp, bool clone) const {
  switch (kind) {
    case Kind::kNone:
      return 0;
    case Kind::kFixed:
      return fixed_bytes;
    case Kind::kModel: {
      const uint64_t guest = fp.nonzero_pages() * kPageBytes;
      const uint64_t tables = guest / 1'000'000 * table_ppm + guest % 1'000'000 * table_ppm / 1'000'000;
      return fixed_bytes + tables + (clone ? clone_code_bytes : code_bytes);
    }
  }
  return 0;
}

const char* VmmOverhead::kind_name() const {
  switch (kind) {
    case Kind::kNone:
      return "none";
    case Kind::kFixed:
      return "fixed";
    case Kind::kModel:
      return "auto";
  }
  return "unknown";
}

}  // namespace densevm::planner
