#include "cow-snapshots/snapshot_command.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <memory>
#include <stdexcept>

#include "cow-snapshots/memory_checkpoint.h"
#include "cow-snapshots/snapshot_image.h"
#include "cow-snapshots/vm_snapshot.h"
#include "shadow-pt/mmu_policy.h"
#include "vmm/cli/run_support.h"
#include "vmm/cli/stats_json.h"
#include "vmm/elf_loader.h"
#include "vmm/frame_store.h"
#include "vmm/scheduler.h"
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
    if (run_flag_takes_value(a) && i + 1 < args.size()) {  // e.g. --cmdline "... --save ..."
      rest.push_back(a);
      rest.push_back(args[++i]);
      continue;
    }
    if (a != "--checkpoint-at" && a != "--save" && a != "--compress" && a != "--diff" &&
        a != "--rollback-every" && a != "--rollbacks") {
      rest.push_back(a);
      continue;
    }
    any = true;
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
    } else {
      out.save_path = v;
    }
  }
  args = std::move(rest);
  if (any && ((!out.at && !out.at_marker) || (!out.save_path && !out.rollback_every))) {
    throw UsageError("--checkpoint-at needs --save FILE or --rollback-every N");
  }
  if (any && out.compress && !out.save_path) throw UsageError("--compress needs --save");
  if (any && out.diff && !out.save_path) throw UsageError("--diff needs --save");
  return any;
}

// Checkpoints vm in memory (state bytes + copy-on-write RAM), then `rollbacks` times runs
// `rollback_every` instructions and rolls back. Per round: instructions run, pages restored
// and the host time the rollback took (the one wall-clock figure).
static nlohmann::ordered_json rollback_loop(Vm& vm, const CheckpointOptions& c, uint64_t slice) {
  const auto pause_start = std::chrono::steady_clock::now();
  StateWriter state;
  vm.save(state);
  MemoryCheckpoint memory(vm.memory());
  const double pause = seconds_since(pause_start);
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
    vm.restore(reader, cpu::RestoredMemory::kReported);  // rollback() reported every page
    rounds.push_back({{"instructions", ran},
                      {"pages_restored", restored},
                      {"rollback_seconds", seconds_since(t0)}});
  }
  return nlohmann::ordered_json{
      {"checkpoint_pages", memory.pages()}, {"pause_seconds", pause}, {"rounds", rounds}};
}

// Runs vm in slices to the checkpoint: exactly `c.at` retired instructions (a slice's budget
// in virtual time never retires more), or right after the guest's `c.at_marker`-th marker (a
// marker ends the slice). False, with the reason on stderr, if the VM ended first.
static bool run_to_checkpoint(Vm& vm, const CheckpointOptions& c, uint64_t slice) {
  while (vm.state() == Vm::State::kRunning) {
    const uint64_t retired = vm.stats().instructions;
    if (c.at_marker ? vm.markers() >= c.at_marker : retired >= *c.at) break;
    (void)vm.run_slice(c.at_marker ? slice : std::min(slice, *c.at - retired));
  }
  if (vm.state() == Vm::State::kRunning) return true;
  const std::string point = c.at_marker ? "marker " + std::to_string(c.at_marker) : std::to_string(*c.at);
  std::fprintf(stderr, "densevm: vm%d ended before --checkpoint-at %s; nothing saved\n", vm.id(), point.c_str());
  (void)report_end(vm);
  return false;
}

// Saves vm to c.save_path; the snapshot.* stats of the save, pause time included (the time
// the VM stood still for it: encoding, compression, the synced write).
static nlohmann::ordered_json save_checkpoint(Vm& vm, const CheckpointOptions& c, const SaveOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  const SaveStats s = save_vm_file(vm, *c.save_path, options);
  const double pause = seconds_since(t0);
  return {{"checkpoint_at", vm.stats().instructions},
          {"saved", true},
          {"pause_seconds", pause},
          {"file_bytes", s.file_bytes},
          {"pages_mapped", s.pages_mapped},
          {"pages_stored", s.pages_stored},
          {"pages_zero_elided", s.zero_pages},
          {"pages_duplicate", s.duplicate_pages},
          {"diff", options.parent != nullptr},
          {"pages_unchanged", s.unchanged_pages},
          {"pages_dropped", s.dropped_pages},
          {"compressed", c.compress}};
}

int run_with_checkpoint(const RunOptions& o, const CheckpointOptions& c,
                        std::span<const uint8_t> builtin_guest) {
  // Not yet: the scheduler's many-VM path, and services that change the P2M between slices.
  if (o.vms != 1) throw UsageError("--checkpoint-at runs exactly one VM (--vms 1)");
  if (o.dedup || o.balloon_target_bytes || o.host_budget_bytes) {
    throw UsageError("--checkpoint-at does not combine with --dedup or balloon targets yet");
  }
  if (c.diff) throw UsageError("--diff saves against the snapshot a VM was restored from: use it with densevm restore");
  const ElfImage kernel = o.guest ? load_elf_file(*o.guest) : parse_elf(builtin_guest);
  FrameStore frames(frame_store_capacity(o.mem_bytes));
  VmConfig config;
  config.mem_bytes = o.mem_bytes;
  config.paging = o.mmu;
  config.check_mmu = o.check_mmu;
  config.cmdline = o.cmdline + " vm=0";  // as `run` names VM 0
  Vm vm(frames, kernel, config, print_line);

  const auto start = std::chrono::steady_clock::now();
  if (!run_to_checkpoint(vm, c, o.slice)) return 1;
  nlohmann::ordered_json snap = {{"checkpoint_at", vm.stats().instructions}, {"saved", false}};
  if (c.save_path) snap = save_checkpoint(vm, c, SaveOptions{.compress = c.compress, .parent = nullptr, .parent_name = {}});
  if (c.rollback_every) snap["rollbacks"] = rollback_loop(vm, c, o.slice);
  run_to_end(vm, o.slice);
  const int status = report_end(vm);
  if (o.stats_path) write_run_stats(vm, frames, seconds_since(start), snap, *o.stats_path);
  return status;
}

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
  const auto start = std::chrono::steady_clock::now();
  // Lazy: the pages section is not read up front; each page is checked against its own hash
  // from the index when a VM first touches it.
  std::vector<Snapshot> chain = load_snapshot_chain(a.file, /*verify_pages=*/!a.lazy, a.parent);
  const uint64_t mem = chain.back().config.mem_bytes;
  FrameStore frames(frame_store_capacity(mem * a.clones));
  // Clones share one frame per stored page until they write it; one VM copies its own.
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/a.clones > 1);
  ConsoleLines console(a.clones > 1);
  auto sink = [&console](int vm, std::string_view line) { console.line(vm, line); };
  std::vector<std::unique_ptr<Vm>> vms;
  for (unsigned k = 0; k < a.clones; ++k) {
    vms.push_back(restore_vm(image, frames, sink,
                             {.lazy = a.lazy, .vm_id = static_cast<int>(k), .clone = k}));
  }
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

  const unsigned threads = a.threads ? a.threads : std::max(1u, std::thread::hardware_concurrency());
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
    if (!run_to_checkpoint(vm, a.checkpoint, a.slice)) return 1;
    SaveOptions options;
    options.compress = a.checkpoint.compress;
    if (a.checkpoint.diff) {
      options.parent = image.get();
      options.parent_name = parent_name_for(a.file, *a.checkpoint.save_path);
    }
    snap["checkpoint"] = save_checkpoint(vm, a.checkpoint, options);
  }
  std::vector<Vm*> run_list;
  for (auto& vm : vms) run_list.push_back(vm.get());
  Scheduler(run_list, threads, a.slice).run([](size_t) {}, [] {});
  snap["pages_fetched"] = image->fetches();
  snap["frames_loaded"] = image->frames_loaded();
  std::vector<const Vm*> view(run_list.begin(), run_list.end());
  const int status = report_endings(view);
  if (a.stats_path) {
    nlohmann::ordered_json doc = stats_document(view, frames, seconds_since(start), threads);
    add_dedup_stats(doc, nullptr);
    doc["snapshot"] = snap;
    write_stats(doc, *a.stats_path);
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
