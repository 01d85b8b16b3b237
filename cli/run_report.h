// How a run ends: a line on stderr per VM that failed or exited non-zero, one per save that
// failed (the exit status is then non-zero even if every guest exited 0), and the --stats
// document with the run's `snapshot` part and `dedup` (when the run shared pages).
//
//   nlohmann::ordered_json snap = checkpoint_stats(at, pause.read(), frozen, /*compressed=*/false, /*diff=*/false);
//   return finish_run(vms, frames, loop, o.loop, snap, {&frozen, 1}, services.dedup_stats());
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/latency_window.h"
#include "cli/options.h"
#include "cli/run_loop.h"
#include "core/frame_store.h"
#include "dedup/dedup_scanner.h"
#include "vmm/frozen_vm.h"
#include "vmm/vm.h"

namespace densevm::cli {

// `snapshot` is left out of the document when null (a run without checkpoint or restore).
[[nodiscard]] int finish_run(const std::vector<std::unique_ptr<Vm>>& vms, const FrameStore& frames, const RunLoop& loop,
                             const LoopOptions& o, const nlohmann::ordered_json& snapshot,
                             std::span<FrozenVm> frozen = {},
                             const std::optional<DedupStats>& dedup = std::nullopt);

// The snapshot.* fields of a checkpoint: where it was taken, how long the guest stood still
// (and the faults it took) and, with a save (waited for here), what was written and how long
// that took.
[[nodiscard]] nlohmann::ordered_json checkpoint_stats(uint64_t at, Latency pause, FrozenVm& frozen,
                                                      bool compressed, bool diff);

}  // namespace densevm::cli
