// `densevm restore FILE ...`: VMs from a snapshot chain, and checkpoints taken from them.
#include "cow-snapshots/snapshot_command.h"

#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include "cow-snapshots/internal/checkpoint_run.h"
#include "cow-snapshots/snapshot_image.h"
#include "cow-snapshots/vm_snapshot.h"
#include "cow-snapshots/vm_template.h"
#include "vmm/cli/run_support.h"
#include "vmm/frame_store.h"
#include "vmm/vm.h"

namespace densevm::snapshot {
namespace {

struct RestoreArgs {
  std::string file;
  std::optional<std::string> stats_path;
  std::optional<std::string> parent;
  uint64_t slice = RunOptions{}.slice;
  unsigned clones = 1;
  unsigned threads = 0;
  bool lazy = false;
  CheckpointOptions checkpoint;
  bool checkpointing = false;
};

constexpr const char* kRestoreUsage =
    "usage: densevm restore FILE [--clones N] [--lazy|--eager] [--parent FILE] [--threads N] "
    "[--slice N] [--stats PATH|-] [--checkpoint-at N|marker[:K] --save FILE [--diff] [--compress]]";

RestoreArgs parse_restore_args(std::vector<std::string> args) {
  RestoreArgs a;
  a.checkpointing = take_checkpoint_options(args, a.checkpoint);
  std::optional<std::string> file;
  bool lazy_given = false, eager_given = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& f = args[i];
    if (f == "--lazy" || f == "--eager") {
      (f == "--lazy" ? lazy_given : eager_given) = true;
      continue;
    }
    if (f == "--stats" || f == "--slice" || f == "--clones" || f == "--parent" || f == "--threads") {
      if (i + 1 >= args.size()) throw UsageError(f + " needs a value");
      const std::string& v = args[++i];
      if (f == "--stats") {
        a.stats_path = v;
      } else if (f == "--parent") {
        a.parent = v;
      } else if (f == "--slice") {
        a.slice = parse_count(f, v);
        if (a.slice == 0) throw UsageError("--slice must be positive");
      } else {
        const uint64_t n = parse_count(f, v);
        if (n == 0 || n > 4096) throw UsageError(f + " takes a number from 1 to 4096");
        (f == "--clones" ? a.clones : a.threads) = static_cast<unsigned>(n);
      }
    } else if (!file && !f.starts_with("-")) {
      file = f;
    } else {
      throw UsageError("restore: unexpected argument '" + f + "' (" + kRestoreUsage + ")");
    }
  }
  if (!file) throw UsageError(kRestoreUsage);
  if (lazy_given && eager_given) throw UsageError("--lazy and --eager exclude each other");
  if (a.checkpoint.rollback_every) throw UsageError("restore: --rollback-every is a run option");
  if (a.checkpointing && a.clones != 1) throw UsageError("--checkpoint-at saves one VM: not with --clones");
  a.file = *file;
  a.lazy = lazy_given;
  return a;
}

// How the diff names its parent: relative to the diff's directory (so the pair can move
// together), absolute if there is no such path.
std::string parent_name_for(const std::string& parent, const std::string& diff) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = fs::absolute(fs::path(diff), ec).parent_path();
  const fs::path rel = fs::proximate(fs::absolute(fs::path(parent), ec), dir, ec);
  return ec ? fs::absolute(fs::path(parent)).string() : rel.string();
}

}  // namespace

int restore_command(const std::vector<std::string>& args) {
  const RestoreArgs a = parse_restore_args(args);
  const auto start = Clock::now();
  // Lazy: the pages section is not read up front; each page is checked against its own hash
  // from the index when a VM first touches it.
  std::vector<Snapshot> chain = load_snapshot_chain(a.file, /*verify_pages=*/!a.lazy, a.parent);
  const uint64_t mem = chain.back().config.mem_bytes;
  // A checkpoint's VM goes on from a template of itself: room for both.
  FrameStore frames(frame_store_capacity(mem * (a.clones + (a.checkpointing ? 1 : 0))));
  // Clones share one frame per stored page until they write it; one VM copies its own.
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/a.clones > 1);
  ConsoleLines console(a.clones > 1);
  auto sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  std::vector<std::unique_ptr<Vm>> vms =
      restore_clones(vm_image(image), frames, sink, a.clones, /*first_clone=*/0, a.lazy);
  const double ready = seconds_since(start);
  const Snapshot& top = image->top();
  nlohmann::ordered_json snap = {{"restored_from", a.file},
                                 {"mode", a.lazy ? "lazy" : "eager"},
                                 {"clones", a.clones},
                                 {"chain_depth", image->depth()},
                                 {"restore_seconds", ready},
                                 {"file_bytes", top.file_bytes},
                                 {"image_pages", image->pages()},
                                 {"pages_stored", top.stored_pages()},
                                 {"pages_zero_elided", top.zero_pages},
                                 {"pages_duplicate", top.duplicate_pages}};

  const unsigned threads = worker_threads(a.threads);
  Frozen frozen;
  uint64_t at = 0;
  double pause = 0;
  if (a.checkpointing) {
    Vm& vm = *vms.front();
    if (a.checkpoint.at_marker && vm.markers() >= a.checkpoint.at_marker) {
      throw UsageError("--checkpoint-at marker:" + std::to_string(a.checkpoint.at_marker) +
                       " was reached before the snapshot (markers count from boot; it holds " +
                       std::to_string(vm.markers()) + ")");
    }
    if (a.checkpoint.at && *a.checkpoint.at <= vm.stats().instructions) {
      throw UsageError("--checkpoint-at " + std::to_string(*a.checkpoint.at) +
                       " is not after the snapshot (taken at " + std::to_string(vm.stats().instructions) +
                       " instructions)");
    }
    if (!run_to_checkpoint(vms, a.checkpoint, threads, a.slice)) return 1;
    at = vm.stats().instructions;
    SaveOptions options;
    options.compress = a.checkpoint.compress;
    if (a.checkpoint.diff) {
      options.parent = image.get();  // outlives the save: declared before `frozen`
      options.parent_name = parent_name_for(a.file, *a.checkpoint.save_path);
    }
    // The VM goes on from its template (same id, console and generation id) while it is saved.
    const auto pause_start = Clock::now();
    frozen = freeze(std::move(vms.front()), a.checkpoint, options);
    vms.front() = restore_vm(vm_image(frozen.tmpl), frames, sink,
                             {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true});
    pause = seconds_since(pause_start);
    snap["checkpoint"] = nullptr;  // filled once the save has ended
  }
  std::optional<Handover> handover;  // the VM going on takes the template's pages once saved
  if (a.checkpointing) handover.emplace(frozen, vms.front()->memory());
  run_all(vms, threads, a.slice, [&handover] {
    if (handover) handover->step();
  });
  snap["pages_fetched"] = image->fetches();
  snap["frames_loaded"] = image->frames_loaded();
  if (a.checkpointing) snap["checkpoint"] = checkpoint_stats(at, pause, frozen, a.checkpoint, a.checkpoint.diff);
  return end_run(vms, frames, start, threads, snap, a.stats_path, std::span<Frozen>(&frozen, 1));
}

}  // namespace densevm::snapshot
