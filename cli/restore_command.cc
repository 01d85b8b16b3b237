// `densevm restore FILE`: VMs from a snapshot chain, and checkpoints taken from them.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/run_loop.h"
#include "cli/run_report.h"
#include "cli/run_support.h"
#include "cow-snapshots/handover.h"
#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/snapshot_image.h"
#include "vmm/frozen_vm.h"
#include "vmm/vm_image.h"

namespace densevm::cli {
namespace {

// How the diff names its parent: relative to the diff's directory (so the pair can move
// together), absolute if there is no such path.
std::string parent_name_for(const std::string& parent, const std::string& diff) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::absolute(fs::path(diff), ec).parent_path();
  const fs::path rel = fs::proximate(fs::absolute(fs::path(parent), ec), dir, ec);
  return ec ? fs::absolute(fs::path(parent)).string() : rel.string();
}

// A checkpoint is taken after the snapshot, never at or before it.
void check_checkpoint_is_ahead(const CheckpointOptions& c, const Vm& vm) {
  if (c.at_marker && vm.markers() >= c.at_marker) {
    throw UsageError("--checkpoint-at marker:" + std::to_string(c.at_marker) +
                     " was reached before the snapshot (markers count from boot; it holds " +
                     std::to_string(vm.markers()) + ")");
  }
  if (c.at && *c.at <= vm.stats().instructions) {
    throw UsageError("--checkpoint-at " + std::to_string(*c.at) + " is not after the snapshot (taken at " +
                     std::to_string(vm.stats().instructions) + " instructions)");
  }
}

// A restored VM placed on another node than the one its snapshot names says so (the stats
// have both: vms[].numa.home_node and saved_home_node).
void say_where_placed(const std::vector<std::unique_ptr<Vm>>& vms) {
  for (const auto& vm : vms) {
    const VmConfig& c = vm->config();
    if (!c.saved_numa_node || c.numa_node == c.saved_numa_node) continue;
    const std::string now = c.numa_node ? "node " + std::to_string(*c.numa_node) : "no home node";
    std::fprintf(stderr, "densevm: vm%d was on NUMA node %d when saved; restored on %s\n", vm->id(), *c.saved_numa_node,
                 now.c_str());
  }
}

}  // namespace

int restore_command(const RestoreOptions& o) {
  using namespace snapshot;
  const CheckpointOptions& c = o.checkpoint;
  const auto start = RunLoop::Clock::now();
  RunLoop loop(o.loop);
  // Lazy: the pages section is not read up front; each page is checked against its own hash
  // from the index when a VM first touches it.
  std::vector<Snapshot> chain = load_snapshot_chain(o.file, /*verify_pages=*/!o.lazy, o.parent);
  const uint64_t mem = chain.back().config.mem_bytes;
  // A checkpoint's VM goes on from a template of itself: room for both.
  const std::unique_ptr<FrameStore> frames_owner =
      loop.make_frames(frame_store_capacity(mem * (o.clones + (c.requested() ? 1 : 0))));
  FrameStore& frames = *frames_owner;
  // Clones share one frame per stored page until they write it; one VM copies its own.
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/o.clones > 1);
  ConsoleLines console(o.clones > 1);
  std::vector<std::unique_ptr<Vm>> vms =
      restore_clones(vm_image(image), frames, console.sink(), o.clones, /*first_clone=*/0,
                     {.lazy = o.lazy, .cpu = cpu_config(o.loop.cpu), .numa = &loop.numa()});
  const double ready = RunLoop::seconds_since(start);
  say_where_placed(vms);
  const Snapshot& top = image->top();
  nlohmann::ordered_json snap = {{"restored_from", o.file},
                                 {"mode", o.lazy ? "lazy" : "eager"},
                                 {"clones", o.clones},
                                 {"chain_depth", image->depth()},
                                 {"restore_seconds", ready},
                                 {"file_bytes", top.file_bytes},
                                 {"image_pages", image->pages()},
                                 {"pages_stored", top.stored_pages()},
                                 {"pages_zero_elided", top.zero_pages},
                                 {"pages_duplicate", top.duplicate_pages}};

  FrozenVm frozen;
  uint64_t at = 0;
  double pause = 0;
  if (c.requested()) {
    check_checkpoint_is_ahead(c, *vms.front());
    if (!loop.run_to_checkpoint(vms, c)) return 1;
    at = vms.front()->stats().instructions;
    SaveOptions options;
    options.compress = c.compress;
    if (c.diff) {
      options.parent = image.get();  // outlives the save: declared before `frozen`
      options.parent_name = parent_name_for(o.file, *c.save_path);
    }
    // The VM goes on from its template (same id, console and generation id) while it is saved.
    const auto pause_start = RunLoop::Clock::now();
    frozen = freeze(std::move(vms.front()), c.save_path, options);
    vms.front() = restore_vm(vm_image(frozen), frames, console.sink(),
                             {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true, .cpu = cpu_config(o.loop.cpu)});
    pause = RunLoop::seconds_since(pause_start);
    snap["checkpoint"] = nullptr;  // filled once the save has ended
  }
  std::optional<Handover> handover;  // the VM going on takes the template's pages once saved
  if (c.requested()) handover.emplace(*frozen.tmpl, frozen.save.get(), vms.front()->memory());
  loop.run(vms, [&handover] {
    if (handover) handover->step();
  });
  snap["pages_fetched"] = image->fetches();
  snap["frames_loaded"] = image->frames_loaded();
  if (c.requested()) snap["checkpoint"] = checkpoint_stats(at, pause, frozen, c.compress, c.diff);
  return finish_run(vms, frames, loop, o.loop, snap, std::span<FrozenVm>(&frozen, 1));
}

}  // namespace densevm::cli
