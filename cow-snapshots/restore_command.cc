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
#include "vmm/cli/run_services.h"
#include "vmm/cli/run_support.h"
#include "vmm/frame_store.h"
#include "vmm/vm.h"

namespace densevm::snapshot {
namespace {

struct RestoreArgs {
  std::vector<std::string> files;  // one fleet: vm0, vm1, ... in this order
  RunOptions services;             // --dedup, --dedup-rate, --dedup-scope, --groups
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
    "usage: densevm restore FILE... [--clones N] [--lazy|--eager] [--parent FILE] [--threads N] "
    "[--slice N] [--stats PATH|-] [--dedup on|off] [--dedup-rate N|max] [--dedup-scope host|group|vm] [--groups G] "
    "[--checkpoint-at N|marker[:K] --save FILE [--diff] [--compress]]";

// Page sharing among the restored VMs: run's own flags, parsed by run's parser.
bool is_service_flag(const std::string& f) {
  return f == "--dedup" || f == "--dedup-rate" || f == "--dedup-scope" || f == "--groups";
}

RestoreArgs parse_restore_args(std::vector<std::string> args) {
  RestoreArgs a;
  a.checkpointing = take_checkpoint_options(args, a.checkpoint);
  bool lazy_given = false, eager_given = false;
  std::vector<std::string> service_flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& f = args[i];
    if (is_service_flag(f)) {
      if (i + 1 >= args.size()) throw UsageError(f + " needs a value");
      service_flags.push_back(f);
      service_flags.push_back(args[++i]);
      continue;
    }
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
    } else if (!f.starts_with("-")) {
      a.files.push_back(f);
    } else {
      throw UsageError("restore: unexpected argument '" + f + "' (" + kRestoreUsage + ")");
    }
  }
  if (a.files.empty()) throw UsageError(kRestoreUsage);
  if (lazy_given && eager_given) throw UsageError("--lazy and --eager exclude each other");
  if (a.checkpoint.rollback_every) throw UsageError("restore: --rollback-every is a run option");
  if (a.checkpointing && a.clones != 1) throw UsageError("--checkpoint-at saves one VM: not with --clones");
  if (a.files.size() > 1 && a.clones != 1) throw UsageError("--clones clones one file: not with several");
  if (a.files.size() > 1 && a.checkpointing) throw UsageError("--checkpoint-at saves one VM: not with several files");
  if (a.files.size() > 1 && a.parent) throw UsageError("--parent names one diff's parent: not with several files");
  if (a.checkpointing && !service_flags.empty()) {
    throw UsageError("--checkpoint-at does not combine with --dedup on restore (the saved VM would be mid-merge)");
  }
  a.services = parse_run_options(service_flags);
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

// snapshot.* of one restored file (the run's fields are added by the caller).
nlohmann::ordered_json image_stats(const std::string& file, const SnapshotImage& image) {
  const Snapshot& top = image.top();
  return {{"restored_from", file},
          {"chain_depth", image.depth()},
          {"file_bytes", top.file_bytes},
          {"image_pages", image.pages()},
          {"pages_stored", top.stored_pages()},
          {"pages_zero_elided", top.zero_pages},
          {"pages_duplicate", top.duplicate_pages}};
}

// Several snapshot files restored as one fleet in one process: file K is vmK (its console
// prefixed [vmK]), all run together on --threads workers, with the run's page sharing among
// them. --stats: snapshot.files[] holds each file's fields; the snapshot.* counts sum them.
int restore_fleet(const RestoreArgs& a) {
  const auto start = Clock::now();
  std::vector<std::vector<Snapshot>> chains;
  uint64_t mem = 0;
  for (const std::string& f : a.files) {
    chains.push_back(load_snapshot_chain(f, /*verify_pages=*/!a.lazy));
    mem += chains.back().back().config.mem_bytes;
  }
  FrameStore frames(frame_store_capacity(mem));
  ConsoleLines console(true);
  auto sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  std::vector<std::shared_ptr<SnapshotImage>> images;
  std::vector<std::unique_ptr<Vm>> vms;
  for (size_t k = 0; k < chains.size(); ++k) {
    images.push_back(std::make_shared<SnapshotImage>(std::move(chains[k]), frames, /*shared=*/false));
    vms.push_back(restore_vm(vm_image(images.back()), frames, sink,
                             {.lazy = a.lazy, .vm_id = static_cast<int>(k), .clone = 0, .same_vm = false}));
    if (!a.lazy) images.back()->release_file_pages();
  }
  const double ready = seconds_since(start);
  RunServices services(a.services, frames);  // after the VMs: it goes first
  if (a.services.dedup) services.attach(list_of(vms));
  const unsigned threads = worker_threads(a.threads);
  run_all(vms, threads, a.slice, [&services] { services.step(); });
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  uint64_t sums[6] = {};
  for (size_t k = 0; k < images.size(); ++k) {
    nlohmann::ordered_json f = image_stats(a.files[k], *images[k]);
    f["pages_fetched"] = images[k]->fetches();
    f["frames_loaded"] = images[k]->frames_loaded();
    const char* summed[6] = {"file_bytes", "image_pages", "pages_stored", "pages_zero_elided", "pages_fetched", "frames_loaded"};
    for (int i = 0; i < 6; ++i) sums[i] += f[summed[i]].get<uint64_t>();
    files.push_back(f);
  }
  nlohmann::ordered_json snap = {{"restored_from", a.files}, {"mode", a.lazy ? "lazy" : "eager"}, {"clones", 1},
                                 {"restore_seconds", ready}, {"file_bytes", sums[0]}, {"image_pages", sums[1]},
                                 {"pages_stored", sums[2]}, {"pages_zero_elided", sums[3]}, {"pages_fetched", sums[4]},
                                 {"frames_loaded", sums[5]}, {"files", files}};
  return end_run(vms, frames, start, threads, snap, a.stats_path, {}, services.dedup_stats());
}

}  // namespace

int restore_command(const std::vector<std::string>& args) {
  const RestoreArgs a = parse_restore_args(args);
  if (a.files.size() > 1) return restore_fleet(a);
  const std::string& file = a.files.front();
  const auto start = Clock::now();
  // Lazy: the pages section is not read up front; each page is checked against its own hash
  // from the index when a VM first touches it.
  std::vector<Snapshot> chain = load_snapshot_chain(file, /*verify_pages=*/!a.lazy, a.parent);
  const uint64_t mem = chain.back().config.mem_bytes;
  // A checkpoint's VM goes on from a template of itself: room for both.
  FrameStore frames(frame_store_capacity(mem * (a.clones + (a.checkpointing ? 1 : 0))));
  // Clones share one frame per stored page until they write it; one VM copies its own.
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/a.clones > 1);
  ConsoleLines console(a.clones > 1);
  auto sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  std::vector<std::unique_ptr<Vm>> vms =
      restore_clones(vm_image(image), frames, sink, a.clones, /*first_clone=*/0, a.lazy);
  if (!a.lazy) image->release_file_pages();
  const double ready = seconds_since(start);
  nlohmann::ordered_json snap = image_stats(file, *image);
  snap["mode"] = a.lazy ? "lazy" : "eager";
  snap["clones"] = a.clones;
  snap["restore_seconds"] = ready;
  // Page sharing between the clones; declared after the VMs, so it goes first.
  RunServices services(a.services, frames);
  if (a.services.dedup) services.attach(list_of(vms));

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
      options.parent_name = parent_name_for(file, *a.checkpoint.save_path);
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
  run_all(vms, threads, a.slice, [&handover, &services] {
    if (handover) handover->step();
    services.step();
  });
  snap["pages_fetched"] = image->fetches();
  snap["frames_loaded"] = image->frames_loaded();
  if (a.checkpointing) snap["checkpoint"] = checkpoint_stats(at, pause, frozen, a.checkpoint, a.checkpoint.diff);
  return end_run(vms, frames, start, threads, snap, a.stats_path, std::span<Frozen>(&frozen, 1), services.dedup_stats());
}

}  // namespace densevm::snapshot
