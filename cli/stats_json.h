// The `--stats` document: host figures and per-VM counters as JSON (documented in the
// README; names stay stable once published). Written atomically: temp file, fsync, rename.
//
//   nlohmann::ordered_json doc = stats_document(vms, frames, wall_seconds);
//   write_stats(doc, "run.json");
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/frame_store.h"
#include "dedup/dedup_scanner.h"
#include "vmm/vm.h"

namespace densevm::cli {

[[nodiscard]] nlohmann::ordered_json stats_document(const std::vector<std::unique_ptr<Vm>>& vms,
                                                    const FrameStore& frames, double wall_seconds,
                                                    unsigned threads);

// Adds the top-level "dedup" object and each VM's memory.shared_pages; dedup is nullptr
// when page sharing is off (the fields are still there, as zeros).
void add_dedup_stats(nlohmann::ordered_json& doc, const DedupStats* dedup);

// Writes to `path` ("-" is stdout). Throws std::runtime_error if it cannot, leaving no
// partial file under `path`.
void write_stats(const nlohmann::ordered_json& doc, const std::string& path);

}  // namespace densevm::cli
