#include "cow-snapshots/snapshot_command.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <stdexcept>

#include "cow-snapshots/memory_checkpoint.h"
#include "cow-snapshots/vm_snapshot.h"
#include "shadow-pt/mmu_policy.h"
#include "vmm/cli/run_support.h"
#include "vmm/cli/stats_json.h"
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

// Runs to the end in slices; the VM's own state says how it ended.
void run_to_end(Vm& vm, uint64_t slice) {
  while (vm.run_slice(slice)) {}
}

int report_end(const Vm& vm) {
  const Vm* one[] = {&vm};
  return report_endings(one);
}

void write_run_stats(const Vm& vm, const FrameStore& frames, double wall,
                     const nlohmann::ordered_json& snapshot, const std::string& path) {
  nlohmann::ordered_json doc = stats_document({&vm}, frames, wall, 1);
  add_dedup_stats(doc, nullptr);
  doc["snapshot"] = snapshot;
  write_stats(doc, path);
}

uint64_t parse_count(const std::string& flag, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19) {
    throw UsageError(flag + " takes a number of instructions, not '" + text + "'");
  }
  return std::stoull(text);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

bool take_checkpoint_options(std::vector<std::string>& args, CheckpointOptions& out) {
  bool any = false;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a != "--checkpoint-at" && a != "--save" && a != "--compress" &&
        a != "--rollback-every" && a != "--rollbacks") {
      rest.push_back(a);
      continue;
    }
    any = true;
    if (a == "--compress") {
      out.compress = true;
      continue;
    }
    if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
    const std::string& v = args[++i];
    if (a == "--checkpoint-at") {
      out.at = parse_count(a, v);
    } else if (a == "--rollback-every") {
      out.rollback_every = parse_count(a, v);
      if (*out.rollback_every == 0) throw UsageError("--rollback-every must be positive");
    } else if (a == "--rollbacks") {
      out.rollbacks = parse_count(a, v);
      if (out.rollbacks == 0 || out.rollbacks > 1'000'000) {
        throw UsageError("--rollbacks takes a number from 1 to 1000000");
      }
    } else {
      out.save_path = v;
    }
  }
  args = std::move(rest);
  if (any && (!out.at || (!out.save_path && !out.rollback_every))) {
    throw UsageError("--checkpoint-at needs --save FILE or --rollback-every N");
  }
  if (any && out.compress && !out.save_path) throw UsageError("--compress needs --save");
  return any;
}

// Checkpoints vm in memory (state bytes + copy-on-write RAM), then `rollbacks` times runs
// `rollback_every` instructions and rolls back. Per round: instructions run, pages restored
// and the host time the rollback took (the one wall-clock figure).
static nlohmann::ordered_json rollback_loop(Vm& vm, const CheckpointOptions& c, uint64_t slice) {
  StateWriter state;
  vm.save(state);
  MemoryCheckpoint memory(vm.memory());
  const uint64_t start = vm.stats().instructions;
  nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
  for (uint64_t k = 0; k < c.rollbacks; ++k) {
    const uint64_t target = start + *c.rollback_every;
    while (vm.state() == Vm::State::kRunning && vm.stats().instructions < target) {
      (void)vm.run_slice(std::min(slice, target - vm.stats().instructions));
    }
    const uint64_t ran = vm.stats().instructions - start;
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t restored = memory.rollback();
    StateReader reader(state.bytes());
    vm.restore(reader);
    rounds.push_back({{"instructions", ran},
                      {"pages_restored", restored},
                      {"rollback_seconds", seconds_since(t0)}});
  }
  return nlohmann::ordered_json{{"checkpoint_pages", memory.pages()}, {"rounds", rounds}};
}

int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                        std::span<const uint8_t> builtin_guest) {
  // Not yet: the scheduler's many-VM path, and services that change the P2M between slices.
  if (o.vms != 1) throw UsageError("--checkpoint-at runs exactly one VM (--vms 1)");
  if (o.dedup || o.balloon_target_bytes || o.host_budget_bytes) {
    throw UsageError("--checkpoint-at does not combine with --dedup or balloon targets yet");
  }
  const ElfImage kernel = o.guest ? load_elf_file(*o.guest) : parse_elf(builtin_guest);
  FrameStore frames(frame_store_capacity(o.mem_bytes));
  VmConfig config;
  config.mem_bytes = o.mem_bytes;
  config.paging = o.mmu;
  config.check_mmu = o.check_mmu;
  config.cmdline = o.cmdline + " vm=0";  // as `run` names VM 0
  Vm vm(frames, kernel, config, print_line);

  const auto start = std::chrono::steady_clock::now();
  nlohmann::ordered_json snap = {{"checkpoint_at", *c.at}, {"saved", false}};
  // Slices end exactly at the checkpoint: budget in virtual time never retires more than it.
  while (vm.state() == Vm::State::kRunning) {
    const uint64_t retired = vm.stats().instructions;
    if (retired >= *c.at) break;
    (void)vm.run_slice(std::min(o.slice, *c.at - retired));
  }
  if (vm.state() != Vm::State::kRunning) {
    std::fprintf(stderr, "densevm: vm0 ended before --checkpoint-at %" PRIu64 "; nothing saved\n",
                 *c.at);
    (void)report_end(vm);
    return 1;
  }
  if (c.save_path) {
    const SaveStats s = save_vm_file(vm, *c.save_path, c.compress);
    snap = {{"checkpoint_at", *c.at},
            {"saved", true},
            {"file_bytes", s.file_bytes},
            {"pages_mapped", s.pages_mapped},
            {"pages_stored", s.pages_stored},
            {"pages_zero_elided", s.zero_pages},
            {"pages_duplicate", s.duplicate_pages},
            {"compressed", c.compress}};
  }
  if (c.rollback_every) snap["rollbacks"] = rollback_loop(vm, c, o.slice);
  run_to_end(vm, o.slice);
  const int status = report_end(vm);
  if (o.stats_path) write_run_stats(vm, frames, seconds_since(start), snap, *o.stats_path);
  return status;
}

int restore_command(const std::vector<std::string>& args) {
  std::optional<std::string> file, stats_path;
  uint64_t slice = RunOptions{}.slice;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--stats" || args[i] == "--slice") {
      if (i + 1 >= args.size()) throw UsageError(args[i] + " needs a value");
      if (args[i] == "--stats") {
        stats_path = args[++i];
      } else {
        slice = parse_count("--slice", args[++i]);
        if (slice == 0) throw UsageError("--slice must be positive");
      }
    } else if (!file && !args[i].starts_with("-")) {
      file = args[i];
    } else {
      throw UsageError("restore: unexpected argument '" + args[i] + "' (usage: densevm restore FILE [--stats PATH|-])");
    }
  }
  if (!file) throw UsageError("usage: densevm restore FILE [--stats PATH|-]");
  const Snapshot snap = load_snapshot_file(*file);
  FrameStore frames(frame_store_capacity(snap.config.mem_bytes));
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Vm> vm = restore_vm(snap, frames, print_line);
  run_to_end(*vm, slice);
  const int status = report_end(*vm);
  if (stats_path) {
    const nlohmann::ordered_json s = {{"restored_from", *file},
                                      {"file_bytes", snap.file_bytes},
                                      {"pages_restored", snap.pages.size()},
                                      {"pages_stored", snap.stored_pages()},
                                      {"pages_zero_elided", snap.zero_pages},
                                      {"pages_duplicate", snap.duplicate_pages}};
    write_run_stats(*vm, frames, seconds_since(start), s, *stats_path);
  }
  return status;
}

int snapshot_command(const std::vector<std::string>& args) {
  if (args.size() != 2 || args[0] != "inspect") throw UsageError("usage: densevm snapshot inspect FILE");
  const Snapshot s = load_snapshot_file(args[1]);
  std::printf("snapshot %s\n", args[1].c_str());
  std::printf("  version %u, flags 0x%x%s, %" PRIu64 " bytes\n", s.version, s.flags,
              (s.flags & kFlagCompressed) ? " (pages zstd-compressed)" : "", s.file_bytes);
  std::printf("  config: mem %" PRIu64 " bytes, mmu %s, cmdline \"%s\"\n", s.config.mem_bytes,
              paging_mode_name(s.config.paging), s.config.cmdline.c_str());
  std::printf("  pages: %zu mapped, %" PRIu64 " stored, %" PRIu64 " zero elided, %" PRIu64
              " duplicates\n",
              s.pages.size() + s.zero_pages, s.stored_pages(), s.zero_pages, s.duplicate_pages);
  for (const Snapshot::SectionInfo& sec : s.sections) {
    std::printf("  section %-6s %12" PRIu64 " bytes  xxh3 %016" PRIx64 "  OK\n",
                section_name(sec.id), sec.bytes, sec.checksum);
  }
  std::printf("  checksums OK\n");
  return 0;
}

}  // namespace densevm::snapshot
