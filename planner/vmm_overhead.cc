#include "planner/vmm_overhead.h"

namespace densevm::planner {

const char* guest_code_name(GuestCode c) { return c == GuestCode::kLinux ? "linux" : "small"; }

// Fitted to bench/vmm_overhead.sh (BENCHMARKS.md, "The VMM's own memory per VM": AMD EPYC,
// 2026-12-06): the marginal VMM memory of one more VM, --cpu auto, --mmu auto (shadow).
// fixed: 8 memfill VMs of 64 MiB (3.56 MiB each) less their tables and code; table_ppm: the
// slope from 32 to 384 MiB of guest memory written (shadow tables, their reverse maps and
// the P2M: 2.7%); code: 4 booted Linux VMs of 128 MiB (47.2 MiB each, 87 MiB of guest
// frames) less the rest; clone code: 8 clones of a booted Linux, --share-translations on
// (6.7 MiB each) less the rest; small: the decode caches and translations of memfill and
// compute (0.35-0.40 MiB). Refitted to the compact decode cache (vmm/cpu/decode_cache.h);
// the first fit, with a 32 KiB slot table per code page, had 85.6 / 25.1 / 0.55 MiB.
VmmOverhead VmmOverhead::model(GuestCode code) {
  constexpr uint64_t kKiB = 1024;
  const bool is_linux = code == GuestCode::kLinux;
  return {.kind = Kind::kModel,
          .fixed_bytes = 2048 * kKiB,
          .table_ppm = 27'000,
          .code_bytes = (is_linux ? 43880 : 410) * kKiB,
          .clone_code_bytes = (is_linux ? 2420 : 410) * kKiB,
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
