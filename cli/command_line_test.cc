#include "cli/command_line.h"

#include <gtest/gtest.h>

namespace densevm::cli {
namespace {

using Command = CommandLine::Command;

// The one line a refused command line gets (or "" if it was accepted).
std::string refusal(const std::vector<std::string>& args) {
  try {
    (void)parse_command_line(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(CommandLine, RunTakesItsOptions) {
  const CommandLine c = parse_command_line({"run", "g.elf", "--vms", "4", "--mem", "64M", "--mmu", "shadow",
                                            "--dedup", "on", "--dedup-rate", "max", "--threads", "2", "--stats", "-"});
  ASSERT_EQ(c.command, Command::kRun);
  EXPECT_EQ(c.run.guest, "g.elf");
  EXPECT_EQ(c.run.vms, 4u);
  EXPECT_EQ(c.run.mem_bytes, uint64_t{64} << 20);
  EXPECT_EQ(c.run.mmu, PagingMode::kShadow);
  EXPECT_TRUE(c.run.sharing.dedup);
  EXPECT_EQ(c.run.sharing.dedup_rate, ScanRate::kUnlimited);
  EXPECT_EQ(c.run.loop.threads, 2u);
  EXPECT_EQ(c.run.loop.stats_path, "-");
  EXPECT_EQ(c.run.loop.huge_frames, HugeFrames::kAuto);
  EXPECT_FALSE(c.checkpoint.requested());
  EXPECT_EQ(parse_command_line({"run", "--huge-frames", "off"}).run.loop.huge_frames, HugeFrames::kOff);
  EXPECT_EQ(parse_command_line({"restore", "a.snap", "--huge-frames", "on"}).restore.loop.huge_frames, HugeFrames::kOn);
}

// A Linux guest: --kernel instead of an ELF guest, --initrd only with it, and Linux's console
// (COM1) on its command line unless --cmdline says otherwise.
TEST(CommandLine, KernelAndInitrdBootALinuxGuest) {
  const CommandLine c = parse_command_line({"run", "--kernel", "vmlinuz", "--initrd", "initrd.cpio", "--vms", "2"});
  ASSERT_EQ(c.command, Command::kRun);
  EXPECT_EQ(c.run.kernel, "vmlinuz");
  EXPECT_EQ(c.run.initrd, "initrd.cpio");
  EXPECT_FALSE(c.run.guest);
  EXPECT_EQ(c.run.cmdline, "console=ttyS0");
  EXPECT_EQ(parse_command_line({"run", "--kernel", "k", "--cmdline", "quiet"}).run.cmdline, "quiet");
  EXPECT_EQ(parse_command_line({"run", "--cmdline", "workload=idle", "--kernel", "k"}).run.cmdline, "workload=idle");
  EXPECT_EQ(parse_command_line({"run"}).run.cmdline, "workload=hello") << "the built-in guest's default";
  EXPECT_EQ(refusal({"run", "--initrd", "initrd.cpio"}), "--initrd requires --kernel");
  EXPECT_NE(refusal({"run", "g.elf", "--kernel", "vmlinuz"}), "") << "one guest or the other";
  EXPECT_NE(refusal({"run", "--kernel"}), "");
  EXPECT_NE(refusal({"restore", "f.snap", "--kernel", "vmlinuz"}), "") << "a restore boots nothing";
  const CommandLine help = parse_command_line({"run", "--help"});
  EXPECT_NE(help.text.find("--kernel FILE"), std::string::npos) << help.text;
  EXPECT_NE(help.text.find("--initrd FILE Needs: --kernel"), std::string::npos) << help.text;
}

// A value is taken as the value of the option before it, whatever it says.
TEST(CommandLine, AValueOfRunsOwnFlagsIsNeverTakenForACheckpointFlag) {
  const CommandLine c = parse_command_line(
      {"run", "--cmdline", "--save", "--checkpoint-at", "5", "--save", "f.snap", "--stats", "--compress"});
  EXPECT_EQ(c.run.cmdline, "--save");
  EXPECT_EQ(c.run.loop.stats_path, "--compress");
  EXPECT_EQ(c.checkpoint.at, 5u);
  EXPECT_EQ(c.checkpoint.save_path, "f.snap");
  EXPECT_FALSE(c.checkpoint.compress);
}

TEST(CommandLine, MarkersAndTheirCountsParse) {
  const CommandLine c = parse_command_line({"run", "--checkpoint-at", "marker:3", "--save", "f"});
  EXPECT_EQ(c.checkpoint.at_marker, 3u);
  EXPECT_FALSE(c.checkpoint.at);
  EXPECT_EQ(parse_command_line({"run", "--checkpoint-at", "marker", "--save", "f"}).checkpoint.at_marker, 1u);
  for (const char* bad : {"marker:", "marker:0", "marker:x", "markers", "-5"}) {
    EXPECT_NE(refusal({"run", "--checkpoint-at", bad, "--save", "f"}), "") << bad;
  }
}

// Each value is read one way, with one range, whichever subcommand takes it.
TEST(CommandLine, RangesAreTheSameInEverySubcommand) {
  for (const char* sub : {"run", "restore"}) {
    std::vector<std::string> head = {sub};
    if (std::string(sub) == "restore") head.push_back("f.snap");
    auto with = [&head](std::vector<std::string> tail) {
      std::vector<std::string> args = head;
      args.insert(args.end(), tail.begin(), tail.end());
      return args;
    };
    EXPECT_EQ(refusal(with({"--slice", "5"})), "--slice takes a whole number from 1000 to 1099511627776, not '5'") << sub;
    EXPECT_EQ(refusal(with({"--threads", "1025"})), "--threads takes a whole number from 1 to 1024, not '1025'") << sub;
    EXPECT_EQ(refusal(with({"--threads", "1024"})), "") << sub;
    EXPECT_EQ(refusal(with({"--checkpoint-at", "x", "--save", "f"})).rfind("--checkpoint-at takes a whole number", 0), 0u)
        << sub;
  }
  EXPECT_EQ(refusal({"run", "--vms", "0"}), "--vms takes a whole number from 1 to 4096, not '0'");
  EXPECT_EQ(refusal({"restore", "f", "--clones", "4097"}), "--clones takes a whole number from 1 to 4096, not '4097'");
  EXPECT_EQ(refusal({"run", "--checkpoint-at", "5", "--clones", "4097"}),
            "--clones takes a whole number from 1 to 4096, not '4097'");
}

TEST(CommandLine, NamesAndSizesAreChecked) {
  EXPECT_EQ(refusal({"run", "--mmu", "fast"}), "--mmu takes ept, shadow or auto, not 'fast'");
  EXPECT_EQ(refusal({"run", "--dedup", "maybe"}), "--dedup takes on or off, not 'maybe'");
  EXPECT_EQ(refusal({"run", "--huge-frames", "2M"}), "--huge-frames takes off, on or auto, not '2M'");
  EXPECT_EQ(refusal({"run", "--dedup-scope", "rack"}), "--dedup-scope takes host, group or vm, not 'rack'");
  EXPECT_EQ(refusal({"run", "--mem", "lots"}), "not a size for --mem: 'lots'");
  EXPECT_EQ(refusal({"run", "--mem", "512K"}), "--mem must be between 1M and 128G");
  EXPECT_EQ(refusal({"run", "--mem", "64M", "--balloon-target", "128M"}), "--balloon-target must not exceed --mem");
  EXPECT_EQ(parse_command_line({"run", "--mem", "1gib", "--host-budget", "3G"}).run.budget.host_bytes, uint64_t{3} << 30);
}

// What one option needs and what excludes another is declared once, with the option.
TEST(CommandLine, NeedsAndExcludesAreEnforced) {
  EXPECT_NE(refusal({"run", "--clones", "3"}), "");
  EXPECT_NE(refusal({"run", "--save", "f"}), "");
  EXPECT_NE(refusal({"run", "--checkpoint-at", "5", "--compress", "--rollback-every", "9"}), "");
  EXPECT_NE(refusal({"run", "--rollbacks", "3"}), "");
  EXPECT_NE(refusal({"run", "--checkpoint-at", "5", "--clones", "2", "--rollback-every", "10"}), "");
  EXPECT_EQ(refusal({"run", "--checkpoint-at", "5"}), "--checkpoint-at needs --save FILE, --clones K or --rollback-every M");
  EXPECT_EQ(refusal({"run", "--vms", "2", "--checkpoint-at", "5", "--clones", "2"}),
            "--clones clones one VM: not with --vms above 1");
  EXPECT_NE(refusal({"restore", "f", "--lazy", "--eager"}), "");
  EXPECT_NE(refusal({"restore", "f", "--checkpoint-at", "5"}), "") << "a restore's checkpoint is saved";
  EXPECT_EQ(refusal({"restore", "f", "--clones", "2", "--checkpoint-at", "5", "--save", "g"}),
            "--checkpoint-at saves one VM: not with --clones");
  EXPECT_EQ(refusal({"restore", "f", "--clones", "1", "--checkpoint-at", "5", "--save", "g", "--diff"}), "");
}

TEST(CommandLine, UnknownThingsAreNamed) {
  EXPECT_EQ(refusal({"run", "--frobnicate"}), "unknown option '--frobnicate' (see densevm run --help)");
  EXPECT_EQ(refusal({"run", "a.elf", "b.elf"}), "more than one guest given: 'a.elf' and 'b.elf'");
  EXPECT_EQ(refusal({"restore", "f", "--rollback-every", "5"}), "unknown option '--rollback-every' (see densevm restore --help)");
  EXPECT_EQ(refusal({"run", "--diff"}), "unknown option '--diff' (see densevm run --help)");
  EXPECT_EQ(refusal({"frob"}), "unknown command 'frob' (try densevm --help)");
  EXPECT_NE(refusal({"snapshot"}), "");
  EXPECT_NE(refusal({"snapshot", "inspect"}), "");
}

// Each subcommand's --help comes from the definitions that parse it.
TEST(CommandLine, HelpIsGeneratedPerSubcommand) {
  const CommandLine run = parse_command_line({"run", "--help"});
  ASSERT_EQ(run.command, Command::kHelp);
  EXPECT_NE(run.text.find("--mem SIZE"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("(1 to 4096)"), std::string::npos) << run.text;
  EXPECT_NE(run.text.find("--rollback-every"), std::string::npos) << run.text;
  EXPECT_EQ(run.text.find("--lazy"), std::string::npos) << run.text;
  const CommandLine restore = parse_command_line({"restore", "--help"});
  ASSERT_EQ(restore.command, Command::kHelp);
  EXPECT_NE(restore.text.find("--lazy"), std::string::npos) << restore.text;
  EXPECT_EQ(restore.text.find("--mem"), std::string::npos) << restore.text;
  const CommandLine inspect = parse_command_line({"snapshot", "inspect", "--help"});
  EXPECT_EQ(inspect.command, Command::kHelp);
  EXPECT_NE(inspect.text.find("FILE"), std::string::npos) << inspect.text;
  const CommandLine none = parse_command_line({});
  EXPECT_EQ(none.command, Command::kUsage);
  EXPECT_NE(none.text.find("restore"), std::string::npos) << none.text;
}

TEST(CommandLine, RestoreAndInspectTakeTheirFile) {
  const CommandLine r = parse_command_line({"restore", "a.snap", "--lazy", "--clones", "3", "--parent", "p.snap"});
  ASSERT_EQ(r.command, Command::kRestore);
  EXPECT_EQ(r.restore.files, std::vector<std::string>{"a.snap"});
  EXPECT_TRUE(r.restore.lazy);
  EXPECT_EQ(r.restore.clones, 3u);
  EXPECT_EQ(r.restore.parent, "p.snap");
  const CommandLine i = parse_command_line({"snapshot", "inspect", "b.snap"});
  ASSERT_EQ(i.command, Command::kInspect);
  EXPECT_EQ(i.snapshot_file, "b.snap");
  EXPECT_FALSE(i.snapshot_parent);
  EXPECT_EQ(parse_command_line({"snapshot", "inspect", "b.snap", "--parent", "p.snap"}).snapshot_parent, "p.snap");
}

// Several files: one fleet, vm0, vm1, ... in the order given, with run's page sharing.
TEST(CommandLine, RestoreTakesSeveralFilesAsOneFleet) {
  const CommandLine r = parse_command_line(
      {"restore", "a.snap", "b.snap", "--dedup", "on", "c.snap", "--dedup-rate", "1000", "--dedup-scope", "group"});
  ASSERT_EQ(r.command, Command::kRestore);
  EXPECT_EQ(r.restore.files, (std::vector<std::string>{"a.snap", "b.snap", "c.snap"}));
  EXPECT_TRUE(r.restore.sharing.dedup);
  EXPECT_EQ(r.restore.sharing.dedup_rate, 1000u);
  EXPECT_EQ(r.restore.sharing.dedup_scope, DedupScope::kGroup);
  EXPECT_EQ(refusal({"restore", "a", "b", "--clones", "2"}), "--clones clones one file: not with several");
  EXPECT_EQ(refusal({"restore", "a", "b", "--checkpoint-at", "5", "--save", "g"}),
            "--checkpoint-at saves one VM: not with several files");
  EXPECT_EQ(refusal({"restore", "a", "b", "--parent", "p"}), "--parent names one diff's parent: not with several files");
  EXPECT_EQ(refusal({"restore", "a", "--dedup", "on", "--checkpoint-at", "5", "--save", "g"}),
            "--checkpoint-at does not combine with --dedup on restore (the saved VM would be mid-merge)");
  EXPECT_EQ(refusal({"restore", "a", "--dedup-scope", "rack"}), "--dedup-scope takes host, group or vm, not 'rack'");
  EXPECT_NE(refusal({"restore"}), "");
}

TEST(CommandLine, PlanSubcommandsTakeTheirOptions) {
  const CommandLine f = parse_command_line({"plan", "fingerprint", "a.snap", "raw:b.ram", "-o", "fp"});
  ASSERT_EQ(f.command, Command::kPlan);
  EXPECT_EQ(f.plan.command, PlanOptions::Command::kFingerprint);
  EXPECT_EQ(f.plan.inputs, (std::vector<std::string>{"a.snap", "raw:b.ram"}));
  EXPECT_EQ(f.plan.out_dir, "fp");

  const CommandLine fit = parse_command_line({"plan", "fit", "--host-mem", "64G", "a.fp", "b.fp", "--headroom", "5",
                                              "--dedup-scope", "group", "--groups", "2", "--reference", "kernel=vmlinux",
                                              "--reference", "initrd=i.cpio", "--sketch", "--json"});
  ASSERT_EQ(fit.command, Command::kPlan);
  EXPECT_EQ(fit.plan.command, PlanOptions::Command::kFit);
  EXPECT_EQ(fit.plan.inputs, (std::vector<std::string>{"a.fp", "b.fp"}));
  EXPECT_EQ(fit.plan.host_bytes, uint64_t{64} << 30);
  EXPECT_EQ(fit.plan.headroom_percent, 5u);
  EXPECT_EQ(fit.plan.scope, DedupScope::kGroup);
  EXPECT_EQ(fit.plan.groups, 2u);
  EXPECT_EQ(fit.plan.fleet.mode, planner::SetMode::kSketch);
  EXPECT_TRUE(fit.plan.json);
  ASSERT_EQ(fit.plan.references.size(), 2u);
  EXPECT_EQ(fit.plan.references[1], (std::pair<std::string, std::string>{"initrd", "i.cpio"}));
  // Each --reference takes one value: the fingerprints after it stay fingerprints.
  const CommandLine refs =
      parse_command_line({"plan", "fit", "--host-mem", "1G", "--reference", "k=v", "--reference", "i=c", "a.fp", "b.fp"});
  EXPECT_EQ(refs.plan.references.size(), 2u);
  EXPECT_EQ(refs.plan.inputs, (std::vector<std::string>{"a.fp", "b.fp"}));

  const CommandLine place = parse_command_line({"plan", "place", "--hosts", "3", "--host-mem", "8G", "a.fp"});
  EXPECT_EQ(place.plan.command, PlanOptions::Command::kPlace);
  EXPECT_EQ(place.plan.hosts, 3u);
  const CommandLine report =
      parse_command_line({"plan", "report", "--host-mem", "8G", "a.fp", "-o", "r.html", "--hosts", "2"});
  EXPECT_EQ(report.plan.command, PlanOptions::Command::kReport);
  EXPECT_EQ(report.plan.output, "r.html");
  EXPECT_EQ(report.plan.hosts, 2u);
  EXPECT_EQ(parse_command_line({"plan", "fit", "--help"}).command, Command::kHelp);

  // --vmm-overhead: the measured model unless told otherwise; 0 is the guest pages alone.
  using Kind = planner::VmmOverhead::Kind;
  EXPECT_EQ(fit.plan.vmm.kind, Kind::kModel);
  EXPECT_EQ(parse_command_line({"plan", "fit", "--host-mem", "1G", "--vmm-overhead", "auto", "a.fp"}).plan.vmm.kind, Kind::kModel);
  EXPECT_EQ(parse_command_line({"plan", "place", "--hosts", "2", "--host-mem", "1G", "--vmm-overhead", "0", "a.fp"}).plan.vmm.kind,
            Kind::kNone);
  const CommandLine flat = parse_command_line({"plan", "report", "--host-mem", "1G", "--vmm-overhead", "24M", "a.fp", "-o", "r.html"});
  EXPECT_EQ(flat.plan.vmm.kind, Kind::kFixed);
  EXPECT_EQ(flat.plan.vmm.fixed_bytes, uint64_t{24} << 20);
}

TEST(CommandLine, PlanRefusesWhatItCannotUse) {
  EXPECT_NE(refusal({"plan"}), "") << "a subcommand is needed";
  EXPECT_NE(refusal({"plan", "fit", "a.fp"}), "") << "--host-mem is needed";
  EXPECT_NE(refusal({"plan", "fit", "--host-mem", "8G"}), "") << "fingerprints are needed";
  EXPECT_NE(refusal({"plan", "place", "--host-mem", "8G", "a.fp"}), "") << "--hosts is needed";
  EXPECT_NE(refusal({"plan", "report", "--host-mem", "8G", "a.fp"}), "") << "-o is needed";
  EXPECT_EQ(refusal({"plan", "fit", "--host-mem", "0", "a.fp"}).find("--host-mem must be between"), 0u);
  EXPECT_EQ(refusal({"plan", "fit", "--host-mem", "8G", "--headroom", "100", "a.fp"}),
            "--headroom takes a whole number from 0 to 99, not '100'");
  for (const char* bad : {"lots", "-1", "2T", "", "auto2"}) {
    EXPECT_EQ(refusal({"plan", "fit", "--host-mem", "8G", "--vmm-overhead", bad, "a.fp"}),
              std::string("--vmm-overhead takes auto or a size from 0 to 1T, not '") + bad + "'");
  }
  EXPECT_EQ(refusal({"plan", "fingerprint", "--vmm-overhead", "auto", "a.snap"}),
            "unknown option '--vmm-overhead' (see densevm plan fingerprint --help)");
  EXPECT_EQ(refusal({"plan", "fit", "--host-mem", "8G", "--reference", "kernel", "a.fp"}),
            "--reference takes LABEL=FILE, not 'kernel'");
  EXPECT_NE(refusal({"plan", "fit", "--host-mem", "8G", "--exact", "--sketch", "a.fp"}), "");
  EXPECT_EQ(refusal({"plan", "fit", "--host-mem", "8G", "--frob", "a.fp"}),
            "unknown option '--frob' (see densevm plan fit --help)");
  EXPECT_EQ(refusal({"plan", "fingerprint", "--host-mem", "8G", "a.snap"}),
            "unknown option '--host-mem' (see densevm plan fingerprint --help)");
  EXPECT_EQ(refusal({"plan", "report", "--host-mem", "8G", "a.fp", "-o", "r.json"}),
            "plan report -o names the HTML page; the JSON goes beside it (REPORT.json)");
  EXPECT_NE(refusal({"plan", "place", "--host-mem", "8G", "--hosts", "2", "--reference", "k=f", "a.fp"}), "")
      << "references are for fit and report";
}

}  // namespace
}  // namespace densevm::cli
