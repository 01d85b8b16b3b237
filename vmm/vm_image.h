// A VM and its snapshots, both ways — the VM half of snapshot files, whose format is
// cow-snapshots/snapshot_file.h: what a snapshot takes of a VM (its config, its VmState
// record, its memory), and a VM rebuilt from an image — a snapshot chain or a frozen template
// (frozen_vm.h) — with a generation id of its own unless it is the same VM going on.
//
//   SaveStats s = save_vm_file(vm, "base.snap", {.compress = true});
//   auto image = std::make_shared<SnapshotImage>(load_snapshot_chain("base.snap"), frames, false);
//   std::unique_ptr<Vm> copy = restore_vm(vm_image(image), frames, sink, {.lazy = true});
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/page_source.h"
#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/snapshot_image.h"
#include "numa/placement.h"
#include "vmm/vm.h"

namespace densevm {

using snapshot::SaveOptions;
using snapshot::SaveStats;
using snapshot::SnapshotConfig;

// The VM's config as a snapshot records it, and back (the id is the restorer's).
[[nodiscard]] SnapshotConfig snapshot_config(const VmConfig& c);
[[nodiscard]] VmConfig vm_config(const SnapshotConfig& c, int id, const CpuConfig& cpu = {});

// What a snapshot takes of a VM besides its RAM: its config and its VmState record.
struct VmRecords {
  SnapshotConfig config;
  std::vector<uint8_t> state;
  [[nodiscard]] snapshot::SnapshotContents contents() const { return {config, state}; }
};
// A VM between slices; throws std::runtime_error for one that has stopped.
[[nodiscard]] VmRecords records_of(const Vm& vm);

// The snapshot file of a VM between slices (snapshot::encode_snapshot, save_snapshot_file).
[[nodiscard]] std::vector<uint8_t> encode_vm(Vm& vm, const SaveOptions& options, SaveStats& stats);
[[nodiscard]] SaveStats save_vm_file(Vm& vm, const std::string& path, const SaveOptions& options);

struct RestoreOptions {
  bool lazy = false;  // pages come from the image on first touch instead of up front
  int vm_id = 0;
  // The new generation id: a fixed function of the image and this number, so repeating a
  // restore repeats the run exactly while clones (1, 2, ...) get ids of their own.
  uint64_t clone = 0;
  // The VM that was frozen goes on from its template (a checkpoint taken while it runs): the
  // same VM, so it keeps its generation id (`clone` is not used) and its counters go on.
  bool same_vm = false;
  CpuConfig cpu = {};  // how the restored VM runs guest code
  bool huge_frames = false;  // VmConfig::huge_frames of the restored VM
  // Where the VM lives on a NUMA host (its home node and frame pool): placed by `numa` when
  // given: on `home` if given (a per-VM choice), else where its snapshot says it was (with
  // --numa auto, while that node has room), else as the setting says; a same_vm keeps the
  // frozen VM's.
  NumaPlacement* numa = nullptr;
  std::optional<uint32_t> home{};
};

// What a VM is restored from: a snapshot chain (SnapshotImage) or a VM frozen in memory
// (VmTemplate). `pages` keeps `state` alive.
struct VmImage {
  SnapshotConfig config;
  std::span<const uint8_t> state;        // the VmState record
  uint32_t version = VmState::kVersion;  // the record's: its snapshot file's format version
  std::shared_ptr<PageSource> pages;     // the new VM's memory source
  uint64_t identity = 0;                 // seeds generation ids: what the image holds
  const Vm* frozen = nullptr;            // a template's VM: same_vm continues its counters
};

// The top snapshot's config and state, the chain's pages, its content checksum as identity.
[[nodiscard]] VmImage vm_image(const std::shared_ptr<snapshot::SnapshotImage>& image);

// A fresh VM from the image: the image becomes its memory's page source (eager: every page
// is mapped before this returns), then Vm::restore and, unless same_vm, a new generation
// id: XXH3-128 of {identity, clone}. Throws snapshot::SnapshotError.
[[nodiscard]] std::unique_ptr<Vm> restore_vm(const VmImage& image, FrameStore& frames, Vm::ConsoleSink sink,
                                             const RestoreOptions& options);

// restore_vm in two steps, so that a checkpoint's pause has only the second: blank_vm builds
// the VM a restore fills (its vCPU's soft TLB, the translator's block cache, the P2M root:
// about 40 pages of fresh host memory, each a first-touch fault of up to 20 us on a host that
// is itself a VM) from the config the image will have (snapshot_config of the VM about to be
// frozen; `frozen` is that VM when same_vm); restore_into fills it from the image. Throws
// std::invalid_argument for a VM that is not blank or not of the image's size.
//   std::unique_ptr<Vm> next = blank_vm(snapshot_config(vm->config()), frames, sink, o, vm.get());
//   FrozenVm f = freeze(std::move(vm), path, {});  // the pause starts here
//   next = restore_into(std::move(next), vm_image(f), o);
[[nodiscard]] std::unique_ptr<Vm> blank_vm(const SnapshotConfig& image_config, FrameStore& frames,
                                           Vm::ConsoleSink sink, const RestoreOptions& options, const Vm* frozen);
[[nodiscard]] std::unique_ptr<Vm> restore_into(std::unique_ptr<Vm> blank, const VmImage& image,
                                               const RestoreOptions& options);
// `count` VMs from one image: vm ids 0..count-1, clone numbers first_clone + k (their
// generation ids), lazy and cpu as `options` say.
[[nodiscard]] std::vector<std::unique_ptr<Vm>> restore_clones(const VmImage& image, FrameStore& frames,
                                                              const Vm::ConsoleSink& sink, unsigned count,
                                                              uint64_t first_clone,
                                                              const RestoreOptions& options = {.lazy = true});

}  // namespace densevm
