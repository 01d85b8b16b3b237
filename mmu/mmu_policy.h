// MmuPolicy: the deterministic rule by which a VM in --mmu auto moves between shadow paging
// and nested paging (Agile Paging, ISCA 2016, at VM granularity).
//
// Time is counted in soft-TLB misses, never wall time. At the end of every window of
// `window_misses` misses in shadow mode, the shadow's cost is estimated in memory references:
//   shadow = hit refs + guest-walk refs + emulated PT writes * emulated_write_refs
//            + shadow tables built * table_build_refs
//   nested = misses * nested_refs_per_miss        (what the same misses would have cost)
// and if shadow > nested the VM falls back to nested paging. Nested mode cannot observe what
// shadow upkeep would cost, so it retries shadow after a back-off of whole windows: starting
// at min_nested_windows, doubled (up to max_nested_windows) each time shadow fails its first
// window after returning, reset once shadow holds for a full window.
//
//   MmuPolicy policy(MmuPolicyConfig{});
//   if (policy.after_shadow_window(window) == MmuPolicy::Decision::kToNested) switch_to_ept();
//   if (policy.after_nested_window() == MmuPolicy::Decision::kToShadow) switch_to_shadow();
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace densevm {

enum class PagingMode : uint8_t { kShadow, kEpt, kAuto };

// "shadow", "ept" or "auto" (the --mmu flag).
[[nodiscard]] std::optional<PagingMode> parse_paging_mode(std::string_view name);
[[nodiscard]] const char* paging_mode_name(PagingMode mode);

struct MmuPolicyConfig {
  uint64_t window_misses = 65536;  // long enough to amortize filling a working set
  uint64_t nested_refs_per_miss = 24;  // 4-level guest walk, each reference through a 4-level EPT
  uint64_t emulated_write_refs = 48;   // trap, emulate, drop derived entries (reference-equivalents)
  uint64_t table_build_refs = 64;      // allocate, zero and link one shadow table
  // A resync compares and refreshes entries, the reverse map and write-tracking: far more
  // than a walk. Fitted so that ptchurn (page-table churn) falls back to nested while
  // tlbwalk (TLB-miss bound) stays in shadow (BENCHMARKS.md). Hidden faults that fill the
  // shadow are warm-up, already counted by their walk references.
  uint64_t resync_refs = 150;
  uint32_t min_nested_windows = 4;
  uint32_t max_nested_windows = 256;
};

// What one shadow window cost (counter deltas over the window).
struct ShadowWindow {
  uint64_t misses = 0;
  uint64_t walk_refs = 0;  // shadow lookups plus guest walks (ShadowStats::walk_refs)
  uint64_t emulated_writes = 0;
  uint64_t tables_built = 0;
  uint64_t resyncs = 0;
};

class MmuPolicy {
 public:
  enum class Decision : uint8_t { kStay, kToNested, kToShadow };

  explicit MmuPolicy(MmuPolicyConfig config)
      : config_(config), backoff_(config.min_nested_windows) {}

  [[nodiscard]] Decision after_shadow_window(const ShadowWindow& w);
  [[nodiscard]] Decision after_nested_window();

  [[nodiscard]] static uint64_t shadow_cost(const ShadowWindow& w, const MmuPolicyConfig& c) {
    return w.walk_refs + w.emulated_writes * c.emulated_write_refs +
           w.tables_built * c.table_build_refs + w.resyncs * c.resync_refs;
  }
  [[nodiscard]] const MmuPolicyConfig& config() const { return config_; }
  [[nodiscard]] uint32_t backoff_windows() const { return backoff_; }

 private:
  MmuPolicyConfig config_;
  uint32_t backoff_;
  uint32_t nested_windows_ = 0;
  bool on_probation_ = false;  // back in shadow after a fallback, first window not yet over
};

}  // namespace densevm
