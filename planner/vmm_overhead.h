// VmmOverhead: the memory densevm itself holds for each VM, beside the guest's pages — the
// decode cache and translations of the code the guest ran, the soft TLB and vCPU, the P2M's
// and shadow tables, device state. A plan that counts guest pages alone over-packs hosts of
// small Linux VMs, which carry tens of MiB of it each (planner/README.md, "The VMM's own
// memory", and BENCHMARKS.md, where the model's figures were measured).
//
// `--vmm-overhead 0` is the old guest-only plan, `SIZE` a flat figure per VM, `auto` the
// measured model:
//
//   per VM = fixed + table_ppm / 10^6 x (its non-zero guest bytes) + code
//
// where code is what the guest's run leaves in the decode cache and translation cache: for
// a booted Linux (GuestCode::kLinux) tens of MiB, for densevm's own small workloads
// (kSmall) half a MiB; a clone of a template (the `clones` technique, `--share-translations
// on`) carries `clone_code` instead: it runs the template's translations of the pages it
// still shares, but decodes what it runs itself.
//
//   const VmmOverhead o = VmmOverhead::model(GuestCode::kLinux);
//   uint64_t bytes = o.vm_bytes(fleet.vms[0], /*clone=*/false);
#pragma once

#include <cstdint>

#include "planner/fingerprint.h"

namespace densevm::planner {

// What the guests run, for the model's code term (`plan --guest-code`).
enum class GuestCode : uint8_t { kLinux, kSmall };
[[nodiscard]] const char* guest_code_name(GuestCode c);

struct VmmOverhead {
  enum class Kind : uint8_t { kNone, kFixed, kModel };
  Kind kind = Kind::kNone;
  uint64_t fixed_bytes = 0;        // kFixed: per VM; kModel: per VM before the terms below
  uint64_t table_ppm = 0;          // kModel: bytes per million bytes of non-zero guest memory
  uint64_t code_bytes = 0;         // kModel: decode cache and translations of a VM's own run
  uint64_t clone_code_bytes = 0;   // kModel: the same for a clone sharing its template's
  GuestCode code = GuestCode::kLinux;  // kModel: which measurement code_bytes come from

  // The measured model (constants from BENCHMARKS.md, "The VMM's own memory per VM").
  [[nodiscard]] static VmmOverhead model(GuestCode code = GuestCode::kLinux);
  [[nodiscard]] static VmmOverhead fixed(uint64_t bytes) { return {.kind = Kind::kFixed, .fixed_bytes = bytes}; }

  // The VMM's bytes for this VM; `clone`: it runs as a clone of the plan's template.
  [[nodiscard]] uint64_t vm_bytes(const Fingerprint& fp, bool clone) const;
  [[nodiscard]] const char* kind_name() const;
};

}  // namespace densevm::planner
