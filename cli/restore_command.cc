// `densevm restore FILE...`: VMs from a snapshot chain, and checkpoints taken from them; or
// several snapshot files restored as one fleet.
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
#include "vmm/host_services.h"
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

// snapshot.* of one restored file (the run's fields are added by the caller).
nlohmann::ordered_json image_stats(const std::string& file, const snapshot::SnapshotImage& image) {
  const snapshot::Snapshot& top = image.top();
  return {{"restored_from", file},
          {"chain_depth", image.depth()},
          {"file_bytes", top.file_bytes},
          {"image_pages", image.pages()},
          {"pages_stored", top.stored_pages()},
          {"pages_zero_elided", top.zero_pages},
          {"pages_duplicate", top.duplicate_pages}};
}

// Several snapshot files restored as one fleet in one process: file K is vmK (its console
// prefixed [vmK]), all run together by the one RunLoop with the run's page sharing among them.
// --stats: snapshot.files[] holds each file's fields; the snapshot.* counts sum them.
int restore_fleet(const RestoreOptions& o) {
  using namespace snapshot;
  const LatencyWindow start;
  RunLoop loop(o.loop);
  std::vector<std::vector<Snapshot>> chains;
  uint64_t mem = 0;
  for (const std::string& f : o.files) {
    chains.push_back(load_snapshot_chain(f, /*verify_pages=*/!o.lazy));
    mem += chains.back().back().config.mem_bytes;
  }
  const std::unique_ptr<FrameStore> frames_owner = loop.make_frames(frame_store_capacity(mem));
  FrameStore& frames = *frames_owner;
  ConsoleLines console(true, o.loop);
  std::vector<std::shared_ptr<SnapshotImage>> images;
  std::vector<std::unique_ptr<Vm>> vms;
  for (size_t k = 0; k < chains.size(); ++k) {
    images.push_back(std::make_shared<SnapshotImage>(std::move(chains[k]), frames, /*shared=*/false));
    vms.push_back(restore_vm(vm_image(images.back()), frames, console.sink(),
                             {.lazy = o.lazy,
                              .vm_id = static_cast<int>(k),
                              .clone = 0,
                              .same_vm = false,
                              .cpu = cpu_config(o.loop),
                              .huge_frames = huge_frames(o.loop.huge_frames, o.sharing.dedup || o.budget.any()),
                              .numa = &loop.numa()}));
    if (!o.lazy) images.back()->release_file_pages();
  }
  const Latency ready = start.read();
  say_where_placed(vms);
  HostServices services(services_config(o.sharing, o.budget, loop.numa()), frames);  // after the VMs: it goes first
  services.attach(list_of(vms));
  loop.run(vms, [&services] { services.step(); });

  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  constexpr const char* kSummed[] = {"file_bytes",        "image_pages",   "pages_stored",
                                     "pages_zero_elided", "pages_fetched", "frames_loaded"};
  uint64_t sums[std::size(kSummed)] = {};
  for (size_t k = 0; k < images.size(); ++k) {
    nlohmann::ordered_json f = image_stats(o.files[k], *images[k]);
    f["pages_fetched"] = images[k]->fetches();
    f["frames_loaded"] = images[k]->frames_loaded();
    for (size_t i = 0; i < std::size(kSummed); ++i) sums[i] += f[kSummed[i]].get<uint64_t>();
    files.push_back(f);
  }
  nlohmann::ordered_json snap = {{"restored_from", o.files}, {"mode", o.lazy ? "lazy" : "eager"}, {"clones", 1},
                                 {"restore_seconds", ready.seconds}, {"restore_faults", ready.faults}};
  for (size_t i = 0; i < std::size(kSummed); ++i) snap[kSummed[i]] = sums[i];
  snap["files"] = files;
  return finish_run(vms, frames, loop, o.loop, snap, {}, services.dedup_stats());
}

}  // namespace

int restore_command(const RestoreOptions& o) {
  using namespace snapshot;
  if (o.files.size() > 1) return restore_fleet(o);
  const std::string& file = o.files.front();
  const CheckpointOptions& c = o.checkpoint;
  const LatencyWindow start;
  RunLoop loop(o.loop);
  // Lazy: the pages section is not read up front; each page is checked against its own hash
  // from the index when a VM first touches it.
  std::vector<Snapshot> chain = load_snapshot_chain(file, /*verify_pages=*/!o.lazy, o.parent);
  const uint64_t mem = chain.back().config.mem_bytes;
  // A checkpoint's VM goes on from a template of itself: room for both.
  const std::unique_ptr<FrameStore> frames_owner =
      loop.make_frames(frame_store_capacity(mem * (o.clones + (c.requested() ? 1 : 0))));
  FrameStore& frames = *frames_owner;
  // Clones share one frame per stored page until they write it; one VM copies its own.
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/o.clones > 1);
  ConsoleLines console(o.clones > 1, o.loop);
  std::vector<std::unique_ptr<Vm>> vms =
      restore_clones(vm_image(image), frames, console.sink(), o.clones, /*first_clone=*/0,
                     {.lazy = o.lazy,
                      .cpu = cpu_config(o.loop),
                      .huge_frames = huge_frames(o.loop.huge_frames, o.sharing.dedup || o.budget.any() || o.clones > 1),
                      .numa = &loop.numa()});
  // Eager: every page is in a frame now; the file's pages read to copy them leave the RSS.
  if (!o.lazy) image->release_file_pages();
  const Latency ready = start.read();
  say_where_placed(vms);
  nlohmann::ordered_json snap = image_stats(file, *image);
  snap["mode"] = o.lazy ? "lazy" : "eager";
  snap["clones"] = o.clones;
  snap["restore_seconds"] = ready.seconds;
  snap["restore_faults"] = ready.faults;
  // Page sharing between the clones and their budget (declared after the VMs: it goes
  // first). Never with a checkpoint (the command line refuses both): the VM going on from it
  // is a new object.
  HostServices services(services_config(o.sharing, o.budget, loop.numa()), frames);
  if (o.sharing.dedup || o.budget.any()) services.attach(list_of(vms));

  FrozenVm frozen;
  uint64_t at = 0;
  Latency pause;
  if (c.requested()) {
    check_checkpoint_is_ahead(c, *vms.front());
    if (!loop.run_to_checkpoint(vms, c)) return 1;
    at = vms.front()->stats().instructions;
    SaveOptions options;
    options.compress = c.compress;
    if (c.diff) {
      options.parent = image.get();  // outlives the save: declared before `frozen`
      options.parent_name = parent_name_for(file, *c.save_path);
    }
    // The VM goes on from its template (same id, console and generation id) while it is
    // saved; it is built blank before the pause, which only fills it (vm_image.h).
    const densevm::RestoreOptions going_on{
        .lazy = true, .vm_id = 0, .clone = 0, .same_vm = true, .cpu = cpu_config(o.loop)};
    std::unique_ptr<Vm> next =
        blank_vm(snapshot_config(vms.front()->config()), frames, console.sink(), going_on, vms.front().get());
    const LatencyWindow pause_window;
    frozen = freeze(std::move(vms.front()), c.save_path, options);
    vms.front() = restore_into(std::move(next), vm_image(frozen), going_on);
    pause = pause_window.read();
    snap["checkpoint"] = nullptr;  // filled once the save has ended
  }
  std::optional<Handover> handover;  // the VM going on takes the template's pages once saved
  if (c.requested()) handover.emplace(*frozen.tmpl, frozen.save.get(), vms.front()->memory());
  loop.run(vms, [&handover, &services] {
    if (handover) handover->step();
    services.step();
  });
  snap["pages_fetched"] = image->fetches();
  snap["frames_loaded"] = image->frames_loaded();
  if (c.requested()) snap["checkpoint"] = checkpoint_stats(at, pause, frozen, c.compress, c.diff);
  return finish_run(vms, frames, loop, o.loop, snap, std::span<FrozenVm>(&frozen, 1), services.dedup_stats());
}

}  // namespace densevm::cli
