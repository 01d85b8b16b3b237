#include "vmm/vm_image.h"

#include <xxhash.h>

#include <stdexcept>
#include <utility>

namespace densevm {

// A snapshot file's version is its VmState record's layout.
static_assert(VmState::kVersion == snapshot::kVersion && VmState::kOldestVersion == snapshot::kOldestVersion);

SnapshotConfig snapshot_config(const VmConfig& c) { return {c.mem_bytes, c.cmdline, c.paging, c.check_mmu, c.numa_node}; }

VmConfig vm_config(const SnapshotConfig& c, int id, const CpuConfig& cpu) {
  return {.id = id, .mem_bytes = c.mem_bytes, .cmdline = c.cmdline, .paging = c.paging, .check_mmu = c.check_mmu,
          .cpu = cpu, .saved_numa_node = c.numa_node};
}

VmRecords records_of(const Vm& vm) {
  if (vm.state() != Vm::State::kRunning) throw std::runtime_error("cannot save a VM that has stopped");
  const VmState s = vm.save();
  // Room for the whole record up front: grown by doubling, the copies would fault in about
  // twice its pages in a checkpoint's pause. The balloon's bitmap is most of it (32 KiB a
  // GiB); the rest is 2 KiB or so, the margin only reserved, never touched.
  constexpr size_t kRecordBesidesBitmap = 8192;
  StateWriter state;
  state.bytes().reserve(s.balloon.ballooned.size() * sizeof(uint64_t) + kRecordBesidesBitmap);
  write_record(state, s);
  return {snapshot_config(vm.config()), std::move(state.bytes())};
}

std::vector<uint8_t> encode_vm(Vm& vm, const SaveOptions& options, SaveStats& stats) {
  const VmRecords records = records_of(vm);
  return snapshot::encode_snapshot(records.contents(), vm.memory(), options, stats);
}

SaveStats save_vm_file(Vm& vm, const std::string& path, const SaveOptions& options) {
  const VmRecords records = records_of(vm);
  return snapshot::save_snapshot_file(records.contents(), vm.memory(), path, options);
}

VmImage vm_image(const std::shared_ptr<snapshot::SnapshotImage>& image) {
  const snapshot::Snapshot& top = image->top();
  return {top.config, top.state, top.version, image, top.content_checksum, nullptr};
}

std::unique_ptr<Vm> blank_vm(const SnapshotConfig& image_config, FrameStore& frames, Vm::ConsoleSink sink,
                             const RestoreOptions& o, const Vm* frozen) {
  VmConfig config = vm_config(image_config, o.vm_id, o.cpu);
  config.huge_frames = o.huge_frames;
  if (o.same_vm && frozen != nullptr) {
    const VmConfig& was = frozen->config();
    config.numa_home = was.numa_home;
    config.frame_pool = was.frame_pool;
    config.numa_node = was.numa_node;
    config.saved_numa_node = was.saved_numa_node;
    config.huge_frames = was.huge_frames;
  } else if (o.numa != nullptr) {
    // Where it was, if this host has that node (with auto, while it has room).
    std::optional<uint32_t> was;
    if (config.saved_numa_node) {
      if (const std::optional<size_t> i = o.numa->topology().index_of(*config.saved_numa_node)) {
        was = static_cast<uint32_t>(*i);
      }
    }
    config.numa_home = o.numa->place(config.mem_bytes, o.home, was);
    config.frame_pool = o.numa->pool_for(config.numa_home);
    if (config.numa_home) config.numa_node = o.numa->topology().nodes[*config.numa_home].id;
  }
  auto vm = std::make_unique<Vm>(frames, config, std::move(sink));
  // A clone's generation id is written by restore_into: its P2M path is built here, before
  // a checkpoint's pause (about 3 fresh pages a clone).
  if (!o.same_vm && !vm->prepare_generation_id()) throw snapshot::SnapshotError("host out of memory for a blank VM");
  return vm;
}

std::unique_ptr<Vm> restore_into(std::unique_ptr<Vm> vm, const VmImage& image, const RestoreOptions& o) {
  if (vm->config().mem_bytes != image.config.mem_bytes || vm->stats().instructions != 0 || vm->memory().has_source()) {
    throw std::invalid_argument("restore_into: the VM is not a blank VM of the image's size");
  }
  if (!(o.same_vm && image.frozen != nullptr) && o.numa != nullptr) image.pages->prefer_pool(vm->config().frame_pool);
  vm->memory().set_source(image.pages);
  if (!o.lazy) {
    switch (vm->memory().materialize()) {
      case GuestMemory::Populate::kMapped: break;
      case GuestMemory::Populate::kSourceCorrupt: throw snapshot::SnapshotError("snapshot page failed its checksum");
      default: throw snapshot::SnapshotError("host out of memory restoring the snapshot");
    }
  }
  try {
    StateReader r(image.state, image.version);
    vm->restore(read_record<VmState>(r));
    r.expect_end("state");
  } catch (const StateError& e) {
    throw snapshot::SnapshotError(std::string("snapshot state is corrupt: ") + e.what());
  }
  if (o.same_vm) {
    if (image.frozen != nullptr) vm->continue_counters_from(*image.frozen);
    return vm;
  }
  // A clone of a template in memory runs the template's translations where it maps its frames.
  if (image.frozen != nullptr) vm->share_translations_of(*image.frozen, image.pages);
  const uint64_t seed[2] = {image.identity, o.clone};
  const XXH128_hash_t h = XXH3_128bits(seed, sizeof seed);
  if (!vm->set_generation_id({h.low64 | 1, h.high64})) {
    throw snapshot::SnapshotError("cannot write the generation id (snapshot page unreadable or host out of memory)");
  }
  return vm;
}

std::unique_ptr<Vm> restore_vm(const VmImage& image, FrameStore& frames, Vm::ConsoleSink sink,
                               const RestoreOptions& o) {
  return restore_into(blank_vm(image.config, frames, std::move(sink), o, image.frozen), image, o);
}

std::vector<std::unique_ptr<Vm>> restore_clones(const VmImage& image, FrameStore& frames, const Vm::ConsoleSink& sink,
                                                unsigned count, uint64_t first_clone, const RestoreOptions& options) {
  std::vector<std::unique_ptr<Vm>> vms;
  for (unsigned k = 0; k < count; ++k) {
    vms.push_back(restore_vm(image, frames, sink,
                             {.lazy = options.lazy,
                              .vm_id = static_cast<int>(k),
                              .clone = first_clone + k,
                              .same_vm = false,
                              .cpu = options.cpu,
                              .huge_frames = options.huge_frames,
                              .numa = options.numa}));
  }
  return vms;
}

}  // namespace densevm
