// `densevm run`: the guests to their end, or to a checkpoint and on from it (see commands.h).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/rollback_loop.h"
#include "cli/run_loop.h"
#include "cli/run_report.h"
#include "cli/run_support.h"
#include "cow-snapshots/handover.h"
#include "vmm/frozen_vm.h"
#include "vmm/host_services.h"
#include "vmm/vm_image.h"

namespace densevm::cli {
namespace {

// Where VM k of a fleet checkpoint saves to: FILE for one VM, FILE with ".vmK" before its
// extension for several (fleet.snap: fleet.vm0.snap, fleet.vm1.snap, ...).
std::string save_path_of(const std::string& path, unsigned vms, unsigned k) {
  if (vms == 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + ".vm" + std::to_string(k) + p.extension().string())).string();
}

}  // namespace

int run_command(const RunOptions& o, const CheckpointOptions& c, std::span<const uint8_t> builtin_guest) {
  RunLoop loop(o.loop);
  // With a checkpoint, the VMs frozen there and the VMs going on from them: address space for each.
  const unsigned going_on = !c.requested() ? 0 : c.clones != 0 ? c.clones : o.vms;
  const std::unique_ptr<FrameStore> frames_owner = loop.make_frames(frame_store_capacity(o.mem_bytes * (o.vms + going_on)));
  FrameStore& frames = *frames_owner;
  // As `run` prints and names them; from the checkpoint on, clones are prefixed like several
  // VMs (never both at once: the VMs they are cloned from stand still).
  ConsoleLines console(o.vms > 1, o.loop), clone_console(c.clones > 1, o.loop);
  // The kernel image (a vmlinux is 60 MiB of segments) is freed once the VMs are booted.
  std::vector<std::unique_ptr<Vm>> vms = boot_vms(o, frames, load_guest(o, builtin_guest), console.sink(), loop.numa());
  // Balloon targets and page sharing between epochs; after a freeze they serve the VMs going
  // on (declared after the VMs: it goes first).
  HostServices services(services_config(o, loop.numa()), frames);
  services.attach(list_of(vms));
  const RunLoop::Between between = [&services] { services.step(); };

  if (!c.requested()) {
    loop.run(vms, between);
    return finish_run(vms, frames, loop, o.loop, nullptr, {}, services.dedup_stats());
  }
  if (!loop.run_to_checkpoint(vms, c, between)) return 1;
  std::vector<uint64_t> at;
  for (const auto& vm : vms) at.push_back(vm->stats().instructions);
  if (!c.save_path && c.clones == 0) {  // a rollback loop alone works on the VMs in place
    nlohmann::ordered_json snap = {{"checkpoint_at", at.front()}, {"saved", false}};
    snap["rollbacks"] = rollback_loop(vms, c, loop, services, between);
    loop.run(vms, between);
    return finish_run(vms, frames, loop, o.loop, snap, {}, services.dedup_stats());
  }

  // The VMs going on are built blank before the pause, which only fills them from the
  // templates: their fresh host memory is faulted in while the guests still run (vm_image.h).
  const CpuConfig cpu = cpu_config(o.loop);
  std::vector<densevm::RestoreOptions> next_options;
  std::vector<std::unique_ptr<Vm>> next;
  if (c.clones == 0) {
    // The same VMs go on: same ids, console and generation ids.
    for (unsigned k = 0; k < vms.size(); ++k) {
      next_options.push_back(
          {.lazy = true, .vm_id = static_cast<int>(k), .clone = 0, .same_vm = true, .cpu = cpu});
      next.push_back(blank_vm(snapshot_config(vms[k]->config()), frames, console.sink(), next_options.back(), vms[k].get()));
    }
  } else {
    // Clones: vm0..vmK-1, each with a generation id of its own (clone numbers from 1).
    for (unsigned k = 0; k < c.clones; ++k) {
      next_options.push_back({.lazy = true,
                              .vm_id = static_cast<int>(k),
                              .clone = 1 + uint64_t{k},
                              .same_vm = false,
                              .cpu = cpu,
                              .numa = &loop.numa()});
      next.push_back(blank_vm(snapshot_config(vms.front()->config()), frames, clone_console.sink(), next_options.back(), nullptr));
    }
  }

  // The guests stand still from here until the VMs going on from the templates are ready.
  const LatencyWindow pause_window;
  std::vector<FrozenVm> frozen;
  frozen.reserve(vms.size());  // the handovers below point into it
  std::vector<std::optional<std::string>> files(vms.size());
  for (unsigned k = 0; k < vms.size(); ++k) {
    if (c.save_path) files[k] = save_path_of(*c.save_path, o.vms, k);
    frozen.push_back(freeze(std::move(vms[k]), files[k], {.compress = c.compress, .parent = nullptr, .parent_name = {}}));
  }
  vms.clear();
  // One VM: its checkpoint's fields; several: the pause, and each VM's fields and file.
  auto stats_of = [&](Latency pause) {
    if (frozen.size() == 1) return checkpoint_stats(at.front(), pause, frozen.front(), c.compress, /*diff=*/false);
    nlohmann::ordered_json per_vm = nlohmann::ordered_json::array();
    for (size_t k = 0; k < frozen.size(); ++k) {
      nlohmann::ordered_json one = checkpoint_stats(at[k], pause, frozen[k], c.compress, /*diff=*/false);
      if (files[k]) one["file"] = *files[k];
      per_vm.push_back(one);
    }
    return nlohmann::ordered_json{{"pause_seconds", pause.seconds}, {"pause_faults", pause.faults}, {"vms", per_vm}};
  };
  if (c.clones == 0) {
    // Each VM going on takes its template's pages once its save has ended.
    for (unsigned k = 0; k < frozen.size(); ++k) {
      vms.push_back(restore_into(std::move(next[k]), vm_image(frozen[k]), next_options[k]));
    }
    services.go_on(list_of(vms));
    const Latency pause = pause_window.read();
    std::vector<snapshot::Handover> handovers;
    for (size_t k = 0; k < vms.size(); ++k) handovers.emplace_back(*frozen[k].tmpl, frozen[k].save.get(), vms[k]->memory());
    const RunLoop::Between with_handovers = [&] {
      services.step();
      for (snapshot::Handover& h : handovers) h.step();
    };
    nlohmann::ordered_json rollbacks;
    if (c.rollback_every) rollbacks = rollback_loop(vms, c, loop, services, with_handovers);
    loop.run(vms, with_handovers);
    nlohmann::ordered_json snap = stats_of(pause);
    if (c.rollback_every) snap["rollbacks"] = rollbacks;
    return finish_run(vms, frames, loop, o.loop, snap, frozen, services.dedup_stats());
  }

  const LatencyWindow clones_window;
  const VmImage image = vm_image(frozen.front());
  for (unsigned k = 0; k < c.clones; ++k) vms.push_back(restore_into(std::move(next[k]), image, next_options[k]));
  const Latency cloned = clones_window.read();
  services.attach(list_of(vms));
  const Latency pause = pause_window.read();
  loop.run(vms, between);
  nlohmann::ordered_json snap = stats_of(pause);
  snap["clones"] = c.clones;
  snap["clone_seconds"] = cloned.seconds;
  snap["clone_faults"] = cloned.faults;
  snap["pages_fetched"] = frozen.front().tmpl->fetches();
  return finish_run(vms, frames, loop, o.loop, snap, frozen, services.dedup_stats());
}

}  // namespace densevm::cli
