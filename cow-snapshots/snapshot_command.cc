#include "cow-snapshots/snapshot_command.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>
#include <unordered_map>

#include "cow-snapshots/internal/checkpoint_run.h"
#include "cow-snapshots/memory_checkpoint.h"
#include "cow-snapshots/vm_snapshot.h"
#include "cow-snapshots/vm_template.h"
#include "shadow-pt/mmu_policy.h"
#include "vmm/cli/run_services.h"
#include "vmm/cli/run_support.h"
#include "vmm/elf_loader.h"
#include "vmm/frame_store.h"
#include "vmm/vm.h"

namespace densevm::snapshot {
namespace {



}  // namespace

bool take_checkpoint_options(std::vector<std::string>& args, CheckpointOptions& out, bool with_clones) {
  std::string first;  // the first checkpoint flag given
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (run_flag_takes_value(a) && i + 1 < args.size()) {  // e.g. --cmdline "... --save ..."
      rest.push_back(a);
      rest.push_back(args[++i]);
      continue;
    }
    if (a != "--checkpoint-at" && a != "--save" && a != "--compress" && a != "--diff" &&
        a != "--rollback-every" && a != "--rollbacks" && !(with_clones && a == "--clones")) {
      rest.push_back(a);
      continue;
    }
    if (first.empty()) first = a;
    if (a == "--compress" || a == "--diff") {
      (a == "--compress" ? out.compress : out.diff) = true;
      continue;
    }
    if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--checkpoint-at" && (v == "marker" || v.starts_with("marker:"))) {
      out.at_marker = v == "marker" ? 1 : parse_count(a, v.substr(7));
      if (out.at_marker == 0) throw UsageError("--checkpoint-at marker:N counts from 1");
    } else if (a == "--checkpoint-at") {
      out.at = parse_count(a, v);
    } else if (a == "--rollback-every") {
      out.rollback_every = parse_count(a, v);
      if (*out.rollback_every == 0) throw UsageError("--rollback-every must be positive");
    } else if (a == "--rollbacks") {
      out.rollbacks = parse_count(a, v);
      if (out.rollbacks == 0 || out.rollbacks > 1'000'000) {
        throw UsageError("--rollbacks takes a number from 1 to 1000000");
      }
    } else if (a == "--clones") {
      const uint64_t n = parse_count(a, v);
      if (n == 0 || n > 4096) throw UsageError("--clones takes a number from 1 to 4096");
      out.clones = static_cast<unsigned>(n);
    } else {
      out.save_path = v;
    }
  }
  args = std::move(rest);
  if (first.empty()) return false;
  if (!out.at && !out.at_marker) throw UsageError(first + " needs --checkpoint-at INSTRUCTIONS|marker[:K]");
  if (!out.save_path && !out.rollback_every && !out.clones) {
    throw UsageError(with_clones ? "--checkpoint-at needs --save FILE, --clones K or --rollback-every N"
                                 : "--checkpoint-at needs --save FILE or --rollback-every N");
  }
  if (out.clones && out.rollback_every) {
    throw UsageError("--clones does not combine with --rollback-every: roll back one VM, or clone it");
  }
  if (out.compress && !out.save_path) throw UsageError("--compress needs --save");
  if (out.diff && !out.save_path) throw UsageError("--diff needs --save");
  return true;
}

namespace {

// Where VM k of a fleet checkpoint saves to: FILE for one VM, FILE with ".vmK" before its
// extension for several (fleet.snap: fleet.vm0.snap, fleet.vm1.snap, ...).
std::string save_path_of(const std::string& path, unsigned vms, unsigned k) {
  if (vms == 1) return path;
  const std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + ".vm" + std::to_string(k) + p.extension().string())).string();
}

// Checkpoints every VM in memory (state bytes + copy-on-write RAM, and the balloon policy's
// state), then `rollbacks` times runs each `rollback_every` instructions and rolls them all
// back. Per round, summed over the VMs: instructions run, pages restored and the host time
// the rollbacks took (the one wall-clock figure).
nlohmann::ordered_json rollback_loop(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c,
                                     unsigned threads, uint64_t slice, RunServices& services,
                                     const Between& between) {
  const auto pause_start = Clock::now();
  std::vector<StateWriter> states(vms.size());
  std::vector<std::unique_ptr<MemoryCheckpoint>> memories;
  std::vector<uint64_t> starts;
  uint64_t checkpoint_pages = 0;
  for (size_t i = 0; i < vms.size(); ++i) {
    vms[i]->save(states[i]);
    memories.push_back(std::make_unique<MemoryCheckpoint>(vms[i]->memory()));
    starts.push_back(vms[i]->stats().instructions);
    checkpoint_pages += memories.back()->pages();
  }
  const std::optional<BalloonPolicy::Saved> policy = services.save();
  const double pause = seconds_since(pause_start);
  nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
  for (uint64_t k = 0; k < c.rollbacks; ++k) {
    std::unordered_map<const Vm*, uint64_t> targets;
    for (size_t i = 0; i < vms.size(); ++i) targets[vms[i].get()] = starts[i] + *c.rollback_every;
    run_all(vms, threads, slice, between, [&targets](const Vm& vm) -> uint64_t {
      const uint64_t retired = vm.stats().instructions, target = targets.at(&vm);
      return retired < target ? target - retired : 0;
    });
    uint64_t ran = 0, restored = 0;
    const auto t0 = Clock::now();
    for (size_t i = 0; i < vms.size(); ++i) {
      ran += vms[i]->stats().instructions - starts[i];
      restored += memories[i]->rollback();
      StateReader reader(states[i].bytes());
      vms[i]->restore(reader, cpu::RestoredMemory::kReported);  // rollback() reported every page
    }
    services.restore(policy);
    rounds.push_back({{"instructions", ran},
                      {"pages_restored", restored},
                      {"rollback_seconds", seconds_since(t0)}});
  }
  return nlohmann::ordered_json{
      {"checkpoint_pages", checkpoint_pages}, {"pause_seconds", pause}, {"rounds", rounds}};
}

}  // namespace

int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                        std::span<const uint8_t> builtin_guest) {
  if (o.vms > 1 && c.clones) throw UsageError("--clones clones one VM: not with --vms above 1");
  // A rollback puts back the guest and the balloon policy's state (BalloonPolicy::save), not
  // the scanner's progress nor what a budget's sampler armed in guest memory: rounds would
  // not repeat.
  if (c.rollback_every && (o.dedup || o.host_budget_bytes)) {
    throw UsageError("--rollback-every does not combine with --dedup or --host-budget");
  }
  if (c.diff) throw UsageError("--diff saves against the snapshot a VM was restored from: use it with densevm restore");
  const GuestImage image = load_guest_image(o, builtin_guest);
  // The VMs, frozen at the checkpoint, and the VMs going on from them: address space for each.
  const unsigned going_on = c.clones ? c.clones : o.vms;
  FrameStore frames(frame_store_capacity(o.mem_bytes * (o.vms + going_on)));
  // As `run` prints and names them; from the checkpoint on, clones are prefixed like
  // several VMs (never both at once: the VMs they are cloned from stand still).
  ConsoleLines console(o.vms > 1), clone_console(c.clones > 1);
  const Vm::ConsoleSink sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  const Vm::ConsoleSink clone_sink = [&clone_console](int vm, std::string_view line) { clone_console.line(vm, line); };
  std::vector<std::unique_ptr<Vm>> vms = boot_vms(o, frames, image, sink);
  // Balloon targets and page sharing between epochs, as `run` has them; after a freeze they
  // serve the VMs going on (declared after the VMs: it goes first).
  RunServices services(o, frames);
  services.attach(list_of(vms));
  const Between between = [&services] { services.step(); };
  const unsigned threads = worker_threads(o.threads);

  const auto start = Clock::now();
  if (!run_to_checkpoint(vms, c, threads, o.slice, between)) return 1;
  std::vector<uint64_t> at;
  for (const auto& vm : vms) at.push_back(vm->stats().instructions);
  if (!c.save_path && !c.clones) {  // a rollback loop alone works on the VMs in place
    nlohmann::ordered_json snap = {{"checkpoint_at", at.front()}, {"saved", false}};
    snap["rollbacks"] = rollback_loop(vms, c, threads, o.slice, services, between);
    run_all(vms, threads, o.slice, between);
    return end_run(vms, frames, start, threads, snap, o.stats_path, {}, services.dedup_stats());
  }

  // The guests stand still from here until the VMs going on from the templates are ready.
  const auto pause_start = Clock::now();
  std::vector<Frozen> frozen;
  frozen.reserve(vms.size());  // the handovers below point into it
  std::vector<CheckpointOptions> each(vms.size(), c);
  for (unsigned k = 0; k < vms.size(); ++k) {
    if (c.save_path) each[k].save_path = save_path_of(*c.save_path, o.vms, k);
    frozen.push_back(freeze(std::move(vms[k]), each[k], SaveOptions{.compress = c.compress, .parent = nullptr, .parent_name = {}}));
  }
  vms.clear();
  // One VM: its checkpoint's fields; several: the pause, and each VM's fields and file.
  auto stats_of = [&](double pause) {
    if (frozen.size() == 1) return checkpoint_stats(at.front(), pause, frozen.front(), c, /*diff=*/false);
    nlohmann::ordered_json per_vm = nlohmann::ordered_json::array();
    for (size_t k = 0; k < frozen.size(); ++k) {
      nlohmann::ordered_json one = checkpoint_stats(at[k], pause, frozen[k], each[k], /*diff=*/false);
      if (each[k].save_path) one["file"] = *each[k].save_path;
      per_vm.push_back(one);
    }
    return nlohmann::ordered_json{{"pause_seconds", pause}, {"vms", per_vm}};
  };
  if (!c.clones) {
    // The same VMs go on: same ids, console and generation ids; each takes its template's
    // pages once its save has ended.
    for (unsigned k = 0; k < frozen.size(); ++k) {
      vms.push_back(restore_vm(vm_image(frozen[k].tmpl), frames, sink,
                               {.lazy = true, .vm_id = static_cast<int>(k), .clone = 0, .same_vm = true}));
    }
    services.go_on(list_of(vms));
    const double pause = seconds_since(pause_start);
    std::vector<Handover> handovers;
    for (size_t k = 0; k < vms.size(); ++k) handovers.emplace_back(frozen[k], vms[k]->memory());
    const Between with_handovers = [&] {
      services.step();
      for (Handover& h : handovers) h.step();
    };
    nlohmann::ordered_json rollbacks;
    if (c.rollback_every) rollbacks = rollback_loop(vms, c, threads, o.slice, services, with_handovers);
    run_all(vms, threads, o.slice, with_handovers);
    nlohmann::ordered_json snap = stats_of(pause);
    if (c.rollback_every) snap["rollbacks"] = rollbacks;
    return end_run(vms, frames, start, threads, snap, o.stats_path, frozen, services.dedup_stats());
  }

  // Clones: vm0..vmK-1, each with a generation id of its own (clone numbers from 1).
  const auto clones_start = Clock::now();
  vms = restore_clones(vm_image(frozen.front().tmpl), frames, clone_sink, c.clones, /*first_clone=*/1);
  const double clone_seconds = seconds_since(clones_start);
  services.attach(list_of(vms));
  const double pause = seconds_since(pause_start);
  run_all(vms, threads, o.slice, between);
  nlohmann::ordered_json snap = stats_of(pause);
  snap["clones"] = c.clones;
  snap["clone_seconds"] = clone_seconds;
  snap["pages_fetched"] = frozen.front().tmpl->fetches();
  return end_run(vms, frames, start, threads, snap, o.stats_path, frozen, services.dedup_stats());
}

int snapshot_command(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "inspect") throw UsageError("usage: densevm snapshot inspect FILE");
  const Snapshot s = load_snapshot_file(args[1]);
  std::printf("snapshot %s\n", args[1].c_str());
  std::printf("  version %u, flags 0x%x%s, %" PRIu64 " bytes\n", s.version, s.flags,
              (s.flags & kFlagCompressed) ? " (pages zstd-compressed)" : "", s.file_bytes);
  std::printf("  config: mem %" PRIu64 " bytes, mmu %s, cmdline \"%s\"\n", s.config.mem_bytes,
              paging_mode_name(s.config.paging), s.config.cmdline.c_str());
  std::printf("  id %016" PRIx64 ", content checksum %016" PRIx64 "\n", s.lineage.id, s.content_checksum);
  if (s.is_diff()) {
    std::printf("  diff of %s (id %016" PRIx64 ", checksum %016" PRIx64 "): %" PRIu64 " pages changed, %" PRIu64
                " dropped\n",
                s.lineage.parent_name.c_str(), s.lineage.parent_id, s.lineage.parent_checksum,
                s.page_count - s.dropped_pages, s.dropped_pages);
  }
  std::printf("  pages: %" PRIu64 " mapped, %" PRIu64 " stored, %" PRIu64 " zero elided, %" PRIu64
              " duplicates\n",
              s.page_count - s.dropped_pages + s.zero_pages, s.stored_pages(), s.zero_pages, s.duplicate_pages);
  for (const Snapshot::SectionInfo& sec : s.sections) {
    std::printf("  section %-6s %12" PRIu64 " bytes  xxh3 %016" PRIx64 "  OK\n",
                section_name(sec.id), sec.bytes, sec.checksum);
  }
  std::printf("  checksums OK\n");
  return 0;
}

}  // namespace densevm::snapshot
