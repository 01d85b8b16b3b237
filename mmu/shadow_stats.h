// ShadowStats: what the shadow MMU did and what its upkeep cost, for the VM's statistics,
// the hybrid policy and the benches. All counts, never time.
//
//   ShadowStats s = mmu.stats();
//   double refs_per_miss = double(s.walk_refs()) / double(s.translations);
//   uint64_t upkeep = s.sync_faults + s.emulated_pt_writes;
#pragma once

#include <cstdint>

namespace densevm {

struct ShadowStats {
  uint64_t translations = 0;        // translate() calls: soft-TLB misses
  uint64_t shadow_hits = 0;         // answered by the shadow tables alone
  uint64_t hit_refs = 0;            // shadow entries read by lookups (at most 4 each)
  uint64_t sync_faults = 0;         // hidden faults: a guest walk filled the shadow
  uint64_t fill_refs = 0;           // guest and EPT entries read by every guest walk
  uint64_t guest_page_faults = 0;   // #PF handed to the guest
  uint64_t demand_faults = 0;       // RAM pages populated on first touch
  uint64_t emulated_pt_writes = 0;  // reported guest writes to shadowed guest tables
  uint64_t unsyncs = 0;             // leaf tables let go out of sync
  uint64_t unsync_resyncs = 0;      // resyncs of out-of-sync tables (CR3) or entries (INVLPG)
  uint64_t flood_unshadows = 0;     // guest tables unshadowed for write flooding
  uint64_t invlpg_drops = 0;        // shadow leaves dropped by INVLPG
  uint64_t rmap_invalidations = 0;  // shadow leaves dropped by P2M changes
  uint64_t rebuilds = 0;            // current root freed to stay within the table budget
  uint64_t retirements = 0;         // wide P2M changes that retired every shadow table at once
  uint64_t tables_reclaimed = 0;    // retired tables (above, or unshadowed subtrees) freed
  uint64_t tlb_flushes = 0;         // soft-TLB flushes requested from the vCPU
  uint64_t roots_cached = 0;        // now
  uint64_t root_hits = 0;           // CR3 loads that found their shadow root
  uint64_t root_misses = 0;
  uint64_t root_evictions = 0;
  uint64_t tables_live = 0;         // shadow table frames now
  uint64_t tables_created = 0;

  // Memory references of all TLB-miss handling: at most 4 for a shadow hit, up to 24 (+4
  // for the EPT D bit of a read) for a walk.
  [[nodiscard]] uint64_t walk_refs() const { return hit_refs + fill_refs; }
};

}  // namespace densevm
