#include "cli/command_line.h"

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

namespace densevm::cli {
namespace {

// Ranges that more than one option or subcommand shares.
constexpr Range kVmCount{1, 4096};
constexpr Range kInstructions{0, uint64_t{1} << 62};

void add_loop_options(CLI::App& app, LoopOptions& o) {
  add_choice<CpuMode>(app, "--cpu", o.cpu,
                      {{"interp", CpuMode::kInterp}, {"translate", CpuMode::kTranslate}, {"auto", CpuMode::kAuto}},
                      "run guest code in the interpreter, translated to host code from each block's first run, or "
                      "auto: translated once a block is hot; the guest sees the same in every mode");
  add_choice<bool>(app, "--share-translations", o.share_translations, {{"on", true}, {"off", false}},
                   "clones of a VM frozen in memory run its translated code for the pages they still share with it "
                   "(on) or translate their own (off); the guest sees the same either way");
  add_choice<HugeFrames>(app, "--huge-frames", o.huge_frames,
                         {{"off", HugeFrames::kOff}, {"on", HugeFrames::kOn}, {"auto", HugeFrames::kAuto}},
                         "back guest memory with 2 MiB host pages (fewer host page faults and TLB misses; a "
                         "ballooned or merged page splits its 2 MiB), or auto: for VMs that neither share pages "
                         "(--dedup, restored clones) nor balloon");
  app.add_option_function<std::string>(
         "--stats", [&o](const std::string& path) { o.stats_path = path; },
         "write the run's statistics as JSON to PATH, or - for stdout (README.md lists the fields)")
      ->type_name("PATH|-");
  add_count(app, "--threads", o.threads, {1, 1024}, "host worker threads, one per host core when not given")->default_str("");
  add_count(app, "--slice", o.slice, {1000, uint64_t{1} << 40}, "retired instructions a VM runs between two epochs");
  app.add_option_function<std::string>(
         "--numa",
         [&o](const std::string& v) {
           const std::optional<NumaSetting> s = NumaSetting::parse(v);
           if (!s) throw UsageError("--numa: '" + v + "' is not auto, off, interleave or node:N");
           o.numa = *s;
         },
         "on a NUMA host: auto (each VM a home node, balancing free memory and VMs, its frames and worker "
         "threads there), node:N (every VM on node N), interleave (frames spread page by page) or off (where "
         "the kernel pleases)")
      ->type_name("auto|off|interleave|node:N")
      ->default_str("auto");
}

// K:N, a VM number and a node.
std::pair<unsigned, int> parse_vm_numa(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) throw UsageError("--vm-numa: '" + text + "' is not K:N (VM K on node N)");
  const auto vm = static_cast<unsigned>(parse_count("--vm-numa K", text.substr(0, colon), {0, kVmCount.max - 1}));
  const auto node = static_cast<int>(parse_count("--vm-numa N", text.substr(colon + 1), {0, 1023}));
  return {vm, node};
}

// Who may share a page. `scope` of dedup_scope is also plan's --dedup-scope.
const std::vector<std::pair<std::string, DedupScope>> kScopes = {
    {"host", DedupScope::kHost}, {"group", DedupScope::kGroup}, {"vm", DedupScope::kVm}};

// Page sharing between the VMs: `run`'s and a restored fleet's. Returns --dedup.
CLI::Option* add_sharing_options(CLI::App& app, SharingOptions& o) {
  CLI::Option* dedup = add_choice<bool>(app, "--dedup", o.dedup, {{"on", true}, {"off", false}},
                                        "content-hash page sharing with copy-on-write between epochs");
  app.add_option_function<std::string>(
         "--dedup-rate",
         [&o](const std::string& v) {
           o.dedup_rate = v == "max" ? ScanRate::kUnlimited : parse_count("--dedup-rate", v, {1, uint64_t{1} << 40});
         },
         "pages scanned per VM per virtual second (10^9 instructions), or max for a full pass every epoch "
         "(1 to 2^40)")
      ->type_name("N|max")
      ->default_str(std::to_string(o.dedup_rate));
  add_choice<DedupScope>(app, "--dedup-scope", o.dedup_scope, kScopes,
                         "who may share a page: any guests, guests of one group, or pages of one guest; zero pages "
                         "are shared in every scope");
  add_count(app, "--groups", o.groups, kVmCount, "VM K belongs to group K mod G")->type_name("G");
  add_choice<bool>(app, "--dedup-numa", o.dedup_numa_local, {{"global", false}, {"local", true}},
                   "on a NUMA host, local shares a frame only among VMs of one home node (no remote user of a "
                   "shared frame; KSM's merge_across_nodes=0), global among any (the frame stays where it was)");
  return dedup;
}

// N:SIZE, a node and its VMs' budget.
std::pair<int, uint64_t> parse_node_budget(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) {
    throw UsageError("--host-budget-node: '" + text + "' is not N:SIZE (the VMs homed on node N get SIZE)");
  }
  const auto node = static_cast<int>(parse_count("--host-budget-node N", text.substr(0, colon), {0, 1023}));
  return {node, parse_size("--host-budget-node SIZE", text.substr(colon + 1), {4 * kKiB, uint64_t{1} << 50})};
}

// The balloon policy's budgets, on run and restore.
void add_budget_options(CLI::App& app, BudgetOptions& o) {
  add_size(app, "--host-budget", o.host_bytes, {4 * kKiB, uint64_t{1} << 50},
           "host memory for all guests: the balloon policy sets each VM's target from guest statistics, taxing idle "
           "memory and sparing growing guests; stopped VMs give their RAM back");
  app.add_option_function<std::vector<std::string>>(
         "--host-budget-node",
         [&o](const std::vector<std::string>& values) {
           for (const std::string& v : values) o.node_bytes.push_back(parse_node_budget(v));
         },
         "host memory for the guests homed on NUMA node N (--numa auto or node:N), met by ballooning those "
         "guests only, before --host-budget; at most the node's memory (repeatable)")
      ->type_name("N:SIZE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void check_budget(const BudgetOptions& o) {
  for (size_t i = 0; i < o.node_bytes.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (o.node_bytes[j].first == o.node_bytes[i].first) {
        throw UsageError("--host-budget-node names node " + std::to_string(o.node_bytes[i].first) + " twice");
      }
    }
  }
}

// INSTRUCTIONS or marker[:K].
void parse_checkpoint_at(const std::string& text, CheckpointOptions& c) {
  if (text == "marker") {
    c.at_marker = 1;
  } else if (text.starts_with("marker:")) {
    c.at_marker = parse_count("--checkpoint-at marker:K", text.substr(7), {1, uint64_t{1} << 32});
  } else {
    c.at = parse_count("--checkpoint-at", text, kInstructions);
  }
}

// The checkpoint options of `run` (run = true) and `restore`. Returns --checkpoint-at.
CLI::Option* add_checkpoint_options(CLI::App& app, CheckpointOptions& c, bool run) {
  CLI::Option* at = app.add_option_function<std::string>(
                           "--checkpoint-at", [&c](const std::string& v) { parse_checkpoint_at(v, c); },
                           run ? "stop every VM after exactly N retired instructions, or right after the guest's "
                                 "K-th marker (default 1), freeze it into a template in memory and run on from it"
                               : "run the restored VM to N retired instructions (counted since boot, as markers "
                                 "are) or to its K-th marker, and save it there")
                           ->type_name("N|marker[:K]");
  CLI::Option* save = app.add_option_function<std::string>(
                             "--save", [&c](const std::string& path) { c.save_path = path; },
                             run ? "write the template to FILE in the background while the VM goes on (with "
                                   "--vms N: FILE with .vmK before its extension, one per VM)"
                                 : "write the checkpoint to FILE")
                             ->type_name("FILE");
  save->needs(at);
  app.add_flag("--compress", c.compress, "zstd-compress the saved pages")->needs(save);
  if (!run) {
    app.add_flag("--diff", c.diff, "save only the pages that differ from the restored snapshot's")->needs(save);
    at->needs(save);
    return at;
  }
  CLI::Option* clones =
      add_count(app, "--clones", c.clones, kVmCount,
                "at the checkpoint, run K clones of the VM (vm0..vmK-1, each with a generation id of its own) "
                "instead of the VM")
          ->type_name("K")
          ->default_str("");
  clones->needs(at);
  CLI::Option* every = app.add_option_function<std::string>(
                              "--rollback-every",
                              [&c](const std::string& v) { c.rollback_every = parse_count("--rollback-every", v, {1, kInstructions.max}); },
                              "after the checkpoint, run M instructions and roll back in memory (only the pages "
                              "that changed), --rollbacks times, then run on to the end")
                              ->type_name("M");
  every->needs(at);
  clones->excludes(every);
  add_count(app, "--rollbacks", c.rollbacks, {1, 1'000'000}, "rounds of --rollback-every")->type_name("K")->needs(every);
  return at;
}

void define_run(CLI::App& app, CommandLine& c) {
  RunOptions& o = c.run;
  CLI::App& run = *app.add_subcommand(
      "run", "Boots guests in one process and runs them to their end; with --checkpoint-at, checkpoints them on the way");
  run.allow_extras();
  CLI::Option* guest = run.add_option_function<std::string>(
                              "guest", [&o](const std::string& path) { o.guest = path; },
                              "guest kernel ELF (default: the built-in guest kernel)")
                           ->type_name("GUEST.elf");
  CLI::Option* kernel = run.add_option_function<std::string>(
                               "--kernel", [&o](const std::string& path) { o.kernel = path; },
                               "boot a Linux kernel (a bzImage such as /boot/vmlinuz, or a vmlinux ELF) instead of "
                               "the built-in guest, on Linux's 64-bit boot protocol with ACPI tables")
                            ->type_name("FILE");
  kernel->excludes(guest);
  run.add_option_function<std::string>(
         "--initrd", [&o](const std::string& path) { o.initrd = path; }, "the Linux guest's initramfs")
      ->type_name("FILE")
      ->needs(kernel);
  add_size(run, "--mem", o.mem_bytes, {kMiB, 128 * kGiB}, "RAM per guest");
  add_count(run, "--vms", o.vms, kVmCount, "number of guests; guest K gets vm=K on its command line");
  CLI::Option* cmdline =
      run.add_option("--cmdline", o.cmdline,
                     std::string("guest kernel command line (workloads: guest-tools/README.md); with --kernel, "
                                 "Linux's (default ") +
                         RunOptions::kLinuxCmdline + ")")
          ->type_name("STR")
          ->capture_default_str();
  // A Linux guest's console is COM1 unless its command line says otherwise.
  run.callback([&o, cmdline] {
    if (o.kernel && cmdline->count() == 0) o.cmdline = RunOptions::kLinuxCmdline;
  });
  add_choice<PagingMode>(run, "--mmu", o.mmu,
                         {{"ept", PagingMode::kEpt}, {"shadow", PagingMode::kShadow}, {"auto", PagingMode::kAuto}},
                         "shadow page tables, nested paging through the EPT-format P2M, or auto: shadow, falling "
                         "back to nested when its upkeep costs more than the walks it saves");
  run.add_flag("--check-mmu", o.check_mmu, "audit every shadow entry against a fresh 2D walk after each slice");
  add_loop_options(run, o.loop);
  add_sharing_options(run, o.sharing);
  run.add_option_function<std::vector<std::string>>(
         "--vm-numa",
         [&o](const std::vector<std::string>& values) {
           for (const std::string& v : values) o.vm_numa.push_back(parse_vm_numa(v));
         },
         "VM K's home node is N, whatever --numa auto or node:N would choose (repeatable)")
      ->type_name("K:N")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_size(run, "--balloon-target", o.balloon_target_bytes, {0, 128 * kGiB},
           "guest memory each VM keeps: its balloon takes the rest from boot on; at most --mem");
  add_budget_options(run, o.budget);
  add_checkpoint_options(run, c.checkpoint, /*run=*/true);
}

void define_restore(CLI::App& app, CommandLine& c) {
  RestoreOptions& o = c.restore;
  CLI::App& restore = *app.add_subcommand(
      "restore",
      "Rebuilds VMs from a snapshot file (and the diffs' parents) and runs them to their end; several files are "
      "restored as one fleet in one process (vm0, vm1, ... in the order given)");
  restore.allow_extras();
  restore.add_option("file", o.files, "snapshot files")->required()->type_name("FILE");
  CLI::Option* lazy =
      restore.add_flag("--lazy", o.lazy, "map the file and copy each page in when the guest first touches it");
  CLI::Option* eager = restore.add_flag("--eager")->description(
      "verify the whole file and copy every page in before the first instruction (default)");
  lazy->excludes(eager);
  add_count(restore, "--clones", o.clones, kVmCount,
            "VMs started from the file, sharing its pages until they write them, each with a generation id of its own");
  restore.add_option_function<std::string>(
             "--parent", [&o](const std::string& path) { o.parent = path; },
             "the parent of a diff snapshot, when it is not where the diff names it")
      ->type_name("FILE");
  add_sharing_options(restore, o.sharing);
  add_budget_options(restore, o.budget);
  add_loop_options(restore, o.loop);
  add_checkpoint_options(restore, o.checkpoint, /*run=*/false);
}

void define_snapshot(CLI::App& app, CommandLine& c) {
  CLI::App& snapshot = *app.add_subcommand("snapshot", "Snapshot files");
  snapshot.require_subcommand(1);
  CLI::App& inspect = *snapshot.add_subcommand(
      "inspect", "Checks a snapshot file (and a diff's parents) as a restore does, and prints what it holds");
  inspect.add_option("file", c.snapshot_file, "snapshot file")->required()->type_name("FILE");
  inspect.add_option_function<std::string>(
             "--parent", [&c](const std::string& path) { c.snapshot_parent = path; },
             "the parent of a diff snapshot, when it is not where the diff names it")
      ->type_name("FILE");
}

// --reference LABEL=FILE.
std::pair<std::string, std::string> parse_reference(const std::string& v) {
  const size_t eq = v.find('=');
  if (eq == 0 || eq == std::string::npos || eq + 1 == v.size()) {
    throw UsageError("--reference takes LABEL=FILE, not '" + v + "'");
  }
  return {v.substr(0, eq), v.substr(eq + 1)};
}

// What fit, place and report share: the host, the fingerprints, how their page sets are held.
void add_plan_host_options(CLI::App& sub, PlanOptions& o) {
  sub.add_option("fingerprints", o.inputs, "fingerprint files (plan fingerprint writes them)")
      ->required()
      ->type_name("FP");
  add_size(sub, "--host-mem", o.host_bytes, {1, uint64_t{1} << 50}, "memory of one host")->required();
  add_count(sub, "--headroom", o.headroom_percent, {0, 99}, "percent of the host's memory kept free")->type_name("P");
  sub.add_option_function<std::string>(
         "--vmm-overhead",
         [&o](const std::string& text) {
           if (text == "auto") {
             o.vmm = planner::VmmOverhead::model();
             return;
           }
           uint64_t bytes = 0;
           try {
             bytes = parse_size("--vmm-overhead", text, {0, uint64_t{1} << 40});
           } catch (const UsageError&) {
             throw UsageError("--vmm-overhead takes auto or a size from 0 to 1T, not '" + text + "'");
           }
           o.vmm = bytes == 0 ? planner::VmmOverhead{} : planner::VmmOverhead::fixed(bytes);
         },
         "the VMM's own memory per VM, added to each host's: auto (the model measured in planner/README.md), "
         "a size per VM, or 0 (guest pages only)")
      ->type_name("SIZE|auto")
      ->default_str("auto");
  add_choice<planner::GuestCode>(sub, "--guest-code", o.guest_code,
                                 {{"linux", planner::GuestCode::kLinux}, {"small", planner::GuestCode::kSmall}},
                                 "what the guests run, for --vmm-overhead auto: a booted Linux, or densevm's own small workloads");
  CLI::Option* exact = sub.add_flag_function(
      "--exact", [&o](int64_t) { o.fleet.mode = planner::SetMode::kExact; },
      "hold every VM's page set exactly (default: while they fit in --exact-limit)");
  CLI::Option* sketch = sub.add_flag_function(
      "--sketch", [&o](int64_t) { o.fleet.mode = planner::SetMode::kSketch; },
      "hold each VM's page set as its KMV sketch, its error checked on --check-sample VMs");
  exact->excludes(sketch);
  add_size(sub, "--exact-limit", o.fleet.exact_limit_bytes, {0, uint64_t{1} << 50},
           "memory the exact page sets may take before the plan sketches them");
  add_count(sub, "--check-sample", o.fleet.check_sample, {2, 1024}, "VMs whose exact sets check a sketched plan");
}

void add_plan_scope_options(CLI::App& sub, PlanOptions& o) {
  add_choice<DedupScope>(sub, "--dedup-scope", o.scope, kScopes, "the scope dedup_scoped predicts (run's --dedup-scope)");
  add_count(sub, "--groups", o.groups, kVmCount, "VM K belongs to group K mod G (--dedup-scope group)")->type_name("G");
}

void add_plan_references(CLI::App& sub, PlanOptions& o) {
  sub.add_option_function<std::vector<std::string>>(
         "--reference",
         [&o](const std::vector<std::string>& values) {
           for (const std::string& v : values) o.references.push_back(parse_reference(v));
         },
         "how much of the VMs' memory is FILE's contents: an ELF's segments, a cpio archive's members, or the "
         "file (a kernel, an initramfs); needs exact page sets")
      ->type_name("LABEL=FILE")
      ->expected(1)  // one value each time: the fingerprints after it are not references
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

void add_plan_place_options(CLI::App& sub, PlanOptions& o, bool required) {
  CLI::Option* hosts = add_count(sub, "--hosts", o.hosts, {0, 1'000'000},
                                 required ? "hosts to place the VMs on" : "hosts to place the VMs on (adds a placement)");
  if (required) hosts->required();
  add_count(sub, "--exact-max-vms", o.exact_max_vms, {0, 63},
            "fleets up to this size are placed by CBC's exact model too, not only greedily");
}

void define_plan(CLI::App& app, CommandLine& c) {
  PlanOptions& o = c.plan;
  CLI::App& plan = *app.add_subcommand(
      "plan", "Capacity planning from the VMs' memory images: how many fit on a host, and which belong together");
  plan.require_subcommand(1);
  plan.allow_extras();
  plan.footer("planner/README.md describes the fingerprints, the techniques, the placement and the JSON document.");

  CLI::App& fingerprint = *plan.add_subcommand("fingerprint", "Writes a fingerprint (IMAGE.fp) of each memory image");
  fingerprint.add_option("images", o.inputs,
                         "densevm snapshot files (diff chains too), QEMU dump-guest-memory ELF cores, or raw:FILE "
                         "for raw RAM")
      ->required()
      ->type_name("IMAGE");
  fingerprint.add_option("-o", o.out_dir, "directory the fingerprints go to")->type_name("DIR")->capture_default_str();
  fingerprint.allow_extras();
  fingerprint.callback([&o] { o.command = PlanOptions::Command::kFingerprint; });

  CLI::App& fit = *plan.add_subcommand(
      "fit", "Host memory of this mix of VMs with each technique, and how many of the mix fit on the host");
  add_plan_host_options(fit, o);
  add_plan_scope_options(fit, o);
  add_plan_references(fit, o);
  fit.add_flag("--json", o.json, "print the plan as its JSON document (densevm-plan/2)");
  fit.allow_extras();
  fit.callback([&o] { o.command = PlanOptions::Command::kFit; });

  CLI::App& place = *plan.add_subcommand(
      "place", "VMs on hosts by the pages they share, against first-fit decreasing: hosts needed by each");
  add_plan_host_options(place, o);
  add_plan_place_options(place, o, /*required=*/true);
  place.add_flag("--json", o.json, "print the plan as its JSON document (densevm-plan/2)");
  place.allow_extras();
  place.callback([&o] { o.command = PlanOptions::Command::kPlace; });

  CLI::App& report = *plan.add_subcommand(
      "report", "One self-contained HTML page with the plan's plots, and its JSON document beside it");
  add_plan_host_options(report, o);
  add_plan_scope_options(report, o);
  add_plan_references(report, o);
  add_plan_place_options(report, o, /*required=*/false);
  report.add_option_function<std::string>(
            "-o", [&o](const std::string& path) { o.output = path; },
            "the HTML page; the JSON document goes beside it (REPORT.json)")
      ->type_name("REPORT.html")
      ->required();
  report.allow_extras();
  report.callback([&o] { o.command = PlanOptions::Command::kReport; });
}

// What a subcommand did not recognize: an unknown option, or a positional too many.
void refuse_extras(const CLI::App& sub, const std::string& positional, const std::optional<std::string>& given) {
  std::string name = sub.get_name();  // "plan fit": the subcommand as it is typed
  for (const CLI::App* up = sub.get_parent(); up != nullptr && up->get_parent() != nullptr; up = up->get_parent()) {
    name = up->get_name() + " " + name;
  }
  for (const std::string& extra : sub.remaining()) {
    if (extra.starts_with("-") && extra != "-") {
      throw UsageError("unknown option '" + extra + "' (see densevm " + name + " --help)");
    }
    if (given) throw UsageError("more than one " + positional + " given: '" + *given + "' and '" + extra + "'");
    throw UsageError("unexpected argument '" + extra + "' (see densevm " + name + " --help)");
  }
}

// The rules that depend on values, not just on which options are there.
void check_run(const CommandLine& c) {
  const RunOptions& o = c.run;
  const CheckpointOptions& k = c.checkpoint;
  if (o.balloon_target_bytes && *o.balloon_target_bytes > o.mem_bytes) {
    throw UsageError("--balloon-target must not exceed --mem");
  }
  for (size_t i = 0; i < o.vm_numa.size(); ++i) {
    if (o.vm_numa[i].first >= o.vms) {
      throw UsageError("--vm-numa " + std::to_string(o.vm_numa[i].first) + ":" + std::to_string(o.vm_numa[i].second) +
                       ": there is no vm" + std::to_string(o.vm_numa[i].first) + " (--vms " + std::to_string(o.vms) + ")");
    }
    for (size_t j = 0; j < i; ++j) {
      if (o.vm_numa[j].first == o.vm_numa[i].first) {
        throw UsageError("--vm-numa names vm" + std::to_string(o.vm_numa[i].first) + " twice");
      }
    }
  }
  check_budget(o.budget);
  if (!k.requested()) return;
  if (!k.save_path && !k.rollback_every && k.clones == 0) {
    throw UsageError("--checkpoint-at needs --save FILE, --clones K or --rollback-every M");
  }
  if (k.clones != 0 && o.vms > 1) throw UsageError("--clones clones one VM: not with --vms above 1");
}

void check_plan(const PlanOptions& o) {
  if (o.output && std::filesystem::path(*o.output).extension() == ".json") {
    throw UsageError("plan report -o names the HTML page; the JSON goes beside it (REPORT.json)");
  }
}

void check_restore(const CommandLine& c) {
  const RestoreOptions& o = c.restore;
  if (o.checkpoint.requested() && o.clones != 1) throw UsageError("--checkpoint-at saves one VM: not with --clones");
  if (o.checkpoint.requested() && o.sharing.dedup) {
    throw UsageError("--checkpoint-at does not combine with --dedup on restore (the saved VM would be mid-merge)");
  }
  if (o.checkpoint.requested() && o.budget.any()) {
    throw UsageError("--checkpoint-at does not combine with --host-budget on restore (the saved VM would be mid-balloon)");
  }
  check_budget(o.budget);
  if (o.files.size() == 1) return;
  if (o.clones != 1) throw UsageError("--clones clones one file: not with several");
  if (o.checkpoint.requested()) throw UsageError("--checkpoint-at saves one VM: not with several files");
  if (o.parent) throw UsageError("--parent names one diff's parent: not with several files");
}

}  // namespace

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine c;
  CLI::App app("densevm: a memory-density hypervisor. One host process runs many x86-64 guests.", "densevm");
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.get_formatter()->column_width(34);
  app.require_subcommand(0, 1);
  app.allow_extras();
  app.footer("Each subcommand has its own --help; README.md describes them all.");
  define_run(app, c);
  define_restore(app, c);
  define_snapshot(app, c);
  define_plan(app, c);

  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    c.command = CommandLine::Command::kHelp;
    c.text = app.help();
    return c;
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }
  if (app.got_subcommand("run")) {
    refuse_extras(*app.get_subcommand("run"), "guest", c.run.guest);
    check_run(c);
    c.command = CommandLine::Command::kRun;
  } else if (app.got_subcommand("restore")) {
    refuse_extras(*app.get_subcommand("restore"), "snapshot file", std::nullopt);
    check_restore(c);
    c.command = CommandLine::Command::kRestore;
  } else if (app.got_subcommand("snapshot")) {
    c.command = CommandLine::Command::kInspect;
  } else if (app.got_subcommand("plan")) {
    for (const CLI::App* sub : app.get_subcommand("plan")->get_subcommands()) refuse_extras(*sub, "", std::nullopt);
    check_plan(c.plan);
    c.command = CommandLine::Command::kPlan;
  } else if (!app.remaining().empty()) {
    throw UsageError("unknown command '" + app.remaining().front() + "' (try densevm --help)");
  } else {
    c.text = app.help();
  }
  return c;
}

}  // namespace densevm::cli
