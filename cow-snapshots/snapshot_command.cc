#include "cow-snapshots/snapshot_command.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <thread>

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

void print_line(int, std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Runs to the end in slices, the services between them; the VM's own state says how it
// ended.
void run_to_end(Vm& vm, uint64_t slice, const Between& between) {
  while (vm.run_slice(slice)) between();
  between();  // as the scheduler's last epoch: a VM that stopped leaves the budget
}

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

// Checkpoints vm in memory (state bytes + copy-on-write RAM), then `rollbacks` times runs
// `rollback_every` instructions and rolls back. Per round: instructions run, pages restored
// and the host time the rollback took (the one wall-clock figure).
static nlohmann::ordered_json rollback_loop(Vm& vm, const CheckpointOptions& c, uint64_t slice,
                                            RunServices& services, const Between& between) {
  const auto pause_start = Clock::now();
  StateWriter state;
  vm.save(state);
  const std::optional<BalloonPolicy::Saved> policy = services.save();
  MemoryCheckpoint memory(vm.memory());
  const double pause = seconds_since(pause_start);
  const uint64_t start = vm.stats().instructions;
  nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
  for (uint64_t k = 0; k < c.rollbacks; ++k) {
    const uint64_t target = start + *c.rollback_every;
    while (vm.state() == Vm::State::kRunning && vm.stats().instructions < target) {
      (void)vm.run_slice(std::min(slice, target - vm.stats().instructions));
      between();
    }
    const uint64_t ran = vm.stats().instructions - start;
    const auto t0 = Clock::now();
    const uint64_t restored = memory.rollback();
    StateReader reader(state.bytes());
    vm.restore(reader, cpu::RestoredMemory::kReported);  // rollback() reported every page
    services.restore(policy);
    rounds.push_back({{"instructions", ran},
                      {"pages_restored", restored},
                      {"rollback_seconds", seconds_since(t0)}});
  }
  return nlohmann::ordered_json{
      {"checkpoint_pages", memory.pages()}, {"pause_seconds", pause}, {"rounds", rounds}};
}

int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                        std::span<const uint8_t> builtin_guest) {
  // Not yet: the scheduler's many-VM path.
  if (o.vms != 1) throw UsageError("--checkpoint-at runs exactly one VM (--vms 1)");
  // A rollback puts back the guest and the balloon policy's state (BalloonPolicy::save), not
  // the scanner's progress nor what a budget's sampler armed in guest memory: rounds would
  // not repeat.
  if (c.rollback_every && (o.dedup || o.host_budget_bytes)) {
    throw UsageError("--rollback-every does not combine with --dedup or --host-budget");
  }
  if (c.diff) throw UsageError("--diff saves against the snapshot a VM was restored from: use it with densevm restore");
  const ElfImage kernel = o.guest ? load_elf_file(*o.guest) : parse_elf(builtin_guest);
  // The VM, frozen at the checkpoint, and the VMs going on from it: address space for each.
  const unsigned going_on = std::max(1u, c.clones);
  FrameStore frames(frame_store_capacity(o.mem_bytes * (going_on + 1)));
  VmConfig config;
  config.mem_bytes = o.mem_bytes;
  config.paging = o.mmu;
  config.check_mmu = o.check_mmu;
  config.cmdline = o.cmdline + " vm=0";  // as `run` names VM 0
  ConsoleLines console(c.clones > 1);
  auto clone_sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  std::vector<std::unique_ptr<Vm>> vms;
  vms.push_back(std::make_unique<Vm>(frames, kernel, config, print_line));
  // Balloon targets and page sharing between slices, as `run` has them; after a freeze they
  // serve the VMs going on (declared after the VMs: it goes first).
  RunServices services(o, frames);
  auto attach = [&services, &vms] {
    std::vector<Vm*> list;
    for (const auto& vm : vms) list.push_back(vm.get());
    services.attach(list);
  };
  const Between between = [&services] { services.step(); };
  attach();

  const auto start = Clock::now();
  if (!run_to_checkpoint(*vms.front(), c, o.slice, between)) return 1;
  const uint64_t at = vms.front()->stats().instructions;
  if (!c.save_path && !c.clones) {  // a rollback loop alone works on the VM in place
    nlohmann::ordered_json snap = {{"checkpoint_at", at}, {"saved", false}};
    snap["rollbacks"] = rollback_loop(*vms.front(), c, o.slice, services, between);
    run_to_end(*vms.front(), o.slice, between);
    return end_run(vms, frames, start, 1, snap, o.stats_path, nullptr, services.dedup_stats());
  }

  // The guest stands still from here until the VMs going on from the template are ready.
  const auto pause_start = Clock::now();
  Frozen frozen =
      freeze(std::move(vms.front()), c, SaveOptions{.compress = c.compress, .parent = nullptr, .parent_name = {}});
  vms.clear();
  if (!c.clones) {
    // The same VM goes on: same id, console and generation id.
    vms.push_back(restore_vm(vm_image(frozen.tmpl), frames, print_line,
                             {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true}));
    services.go_on(std::vector<Vm*>{vms.front().get()});
    const double pause = seconds_since(pause_start);
    Handover handover(frozen, vms.front()->memory());
    const Between with_handover = [&] {
      services.step();
      handover.step();
    };
    nlohmann::ordered_json rollbacks;
    if (c.rollback_every) rollbacks = rollback_loop(*vms.front(), c, o.slice, services, with_handover);
    run_to_end(*vms.front(), o.slice, with_handover);
    nlohmann::ordered_json snap = checkpoint_stats(at, pause, frozen, c, /*diff=*/false);
    if (c.rollback_every) snap["rollbacks"] = rollbacks;
    return end_run(vms, frames, start, 1, snap, o.stats_path, &frozen, services.dedup_stats());
  }

  // Clones: vm0..vmK-1, each with a generation id of its own (clone numbers from 1).
  const auto clones_start = Clock::now();
  vms = restore_clones(vm_image(frozen.tmpl), frames, clone_sink, c.clones, /*first_clone=*/1);
  const double clone_seconds = seconds_since(clones_start);
  attach();
  const double pause = seconds_since(pause_start);
  const unsigned threads = o.threads ? o.threads : std::max(1u, std::thread::hardware_concurrency());
  run_all(vms, threads, o.slice, between);
  nlohmann::ordered_json snap = checkpoint_stats(at, pause, frozen, c, /*diff=*/false);
  snap["clones"] = c.clones;
  snap["clone_seconds"] = clone_seconds;
  snap["pages_fetched"] = frozen.tmpl->fetches();
  return end_run(vms, frames, start, threads, snap, o.stats_path, &frozen, services.dedup_stats());
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
