#include "cli/run_report.h"

#include <cstdio>
#include <string>

#include "cli/numa_stats.h"
#include "cli/run_support.h"
#include "cli/stats_json.h"

namespace densevm::cli {

int finish_run(const std::vector<std::unique_ptr<Vm>>& vms, const FrameStore& frames, const RunLoop& loop,
               const LoopOptions& o, const nlohmann::ordered_json& snapshot, std::span<FrozenVm> frozen,
               const std::optional<DedupStats>& dedup) {
  int status = report_endings(vms);
  for (FrozenVm& f : frozen) {
    if (!f.save) continue;
    const std::string& error = f.save->finish().error;
    if (!error.empty()) {
      std::fprintf(stderr, "densevm: %s\n", error.c_str());
      if (status == 0) status = 1;
    }
  }
  if (o.stats_path) {
    nlohmann::ordered_json doc = stats_document(vms, frames, loop.seconds(), loop.threads());
    doc["host"]["marker_samples"] = loop.marker_samples().json();
    add_dedup_stats(doc, dedup ? &*dedup : nullptr);
    add_numa_stats(doc, vms, frames, loop.numa());
    if (!snapshot.is_null()) doc["snapshot"] = snapshot;
    write_stats(doc, *o.stats_path);
  }
  return status;
}

nlohmann::ordered_json checkpoint_stats(uint64_t at, Latency pause, FrozenVm& frozen, bool compressed,
                                        bool diff) {
  nlohmann::ordered_json j = {{"checkpoint_at", at},
                              {"saved", false},
                              {"pause_seconds", pause.seconds},
                              {"pause_faults", pause.faults},
                              {"template_pages_released", frozen.tmpl->released()}};
  if (!frozen.save) return j;
  const snapshot::BackgroundSave::Result& r = frozen.save->finish();
  const snapshot::SaveStats& s = r.stats;
  j["saved"] = r.error.empty();
  j["save_seconds"] = r.seconds;
  if (!r.error.empty()) {
    j["save_error"] = r.error;
    return j;
  }
  j.update(nlohmann::ordered_json{{"file_bytes", s.file_bytes},
                                  {"pages_mapped", s.pages_mapped},
                                  {"pages_stored", s.pages_stored},
                                  {"pages_zero_elided", s.zero_pages},
                                  {"pages_duplicate", s.duplicate_pages},
                                  {"diff", diff},
                                  {"pages_unchanged", s.unchanged_pages},
                                  {"pages_dropped", s.dropped_pages},
                                  {"compressed", compressed}});
  return j;
}

}  // namespace densevm::cli
