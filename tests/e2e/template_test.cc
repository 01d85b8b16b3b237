// Checkpoints that go on: at `--checkpoint-at` the VM is frozen into a template in memory;
// the same VM goes on from it while the file is written in the background (`--save`), or K
// clones of it run (`--clones K`). The guest sees nothing of it: the same output, the same
// guest-visible counters, and files that restore as before.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

const std::vector<std::string> kMemfill = {"--mem", "64M", "--cmdline", "workload=memfill size=8M hold=5"};
const std::vector<std::string> kGenid = {"--mem", "64M", "--cmdline", "workload=genid ticks=30"};

std::vector<std::string> sorted_lines(const std::string& out) {
  std::vector<std::string> lines;
  for (size_t p = 0; p < out.size();) {
    const size_t e = out.find('\n', p);
    lines.push_back(out.substr(p, e - p));
    p = e == std::string::npos ? out.size() : e + 1;
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// What the guest decides, counted the same whether or not the VM went on from a template
// (host-side counters such as walks or decodes go on counting the work of the fresh
// caches of the VM that goes on, as after a restore).
void expect_same_guest_counters(const nlohmann::json& a, const nlohmann::json& b) {
  EXPECT_EQ(a["exit_code"], b["exit_code"]);
  EXPECT_EQ(a["state"], b["state"]);
  EXPECT_EQ(a["instructions"], b["instructions"]);
  EXPECT_EQ(a["virtual_time"], b["virtual_time"]);
  for (const char* k : {"exceptions", "interrupts", "timer_ticks"}) EXPECT_EQ(a["cpu"][k], b["cpu"][k]) << k;
  for (const char* k : {"invlpg", "cr3_loads"}) EXPECT_EQ(a["mmu"][k], b["mmu"][k]) << k;
  EXPECT_EQ(a["balloon"], b["balloon"]);
}

TEST(TemplateSave, TheRunGoesOnAsWithoutACheckpointAndTheFileRestoresIt) {
  const std::string file = temp_path("tpl.snap");
  CliResult whole, saved, restored;
  const nlohmann::json w = run_stats(with({"run"}, kMemfill), &whole);
  const nlohmann::json s =
      run_stats(with({"run"}, with(kMemfill, {"--checkpoint-at", "3000000", "--save", file})), &saved);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(saved.out, whole.out);
  EXPECT_TRUE(saved.err.empty()) << saved.err;
  ASSERT_EQ(s["vms"].size(), 1u);
  expect_same_guest_counters(s["vms"][0], w["vms"][0]);
  const nlohmann::json& snap = s["snapshot"];
  EXPECT_EQ(snap["saved"], true);
  EXPECT_EQ(snap["checkpoint_at"], 3000000u);
  EXPECT_TRUE(snap["pause_seconds"].is_number()) << snap;
  EXPECT_TRUE(snap["pause_faults"].is_number_unsigned()) << snap;
  EXPECT_TRUE(snap["save_seconds"].is_number()) << snap;
  EXPECT_GT(snap["pages_mapped"].get<uint64_t>(), 2048u) << "the 8 MiB filled";
  EXPECT_EQ(std::filesystem::file_size(file), snap["file_bytes"].get<uint64_t>());

  // The file holds the VM as it was at the checkpoint: its restore ends as the whole run.
  const nlohmann::json r = run_stats({"restore", file}, &restored);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  ASSERT_FALSE(memfill_line(whole.out).empty()) << whole.out;
  EXPECT_EQ(memfill_line(restored.out), memfill_line(whole.out));
  EXPECT_EQ(whole.out.substr(whole.out.size() - restored.out.size()), restored.out);
  EXPECT_EQ(r["vms"][0]["instructions"], w["vms"][0]["instructions"]);
  std::remove(file.c_str());
}

// A VM restored lazily goes on from a template too: a full save fetches what it still owes
// first, a diff does not; both files end the run as the uninterrupted one does.
TEST(TemplateSave, ALazilyRestoredVmSavesFullAndDiffFilesWhileItGoesOn) {
  const std::string base = temp_path("tpl-base.snap"), full = temp_path("tpl-full.snap"),
                    diff = temp_path("tpl-diff.snap");
  CliResult whole;
  const nlohmann::json w = run_stats(with({"run"}, kMemfill), &whole);
  ASSERT_EQ(run_densevm(with({"run"}, with(kMemfill, {"--checkpoint-at", "3000000", "--save", base}))).exit_code, 0);
  for (const auto& [out, extra] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {full, {}}, {diff, {"--diff"}}}) {
    CliResult going_on, restored;
    const nlohmann::json g = run_stats(
        with({"restore", base, "--lazy", "--checkpoint-at", "4000000", "--save", out}, extra), &going_on);
    ASSERT_EQ(going_on.exit_code, 0) << going_on.err;
    EXPECT_EQ(memfill_line(going_on.out), memfill_line(whole.out));
    EXPECT_EQ(g["vms"][0]["instructions"], w["vms"][0]["instructions"]);
    EXPECT_EQ(g["snapshot"]["checkpoint"]["saved"], true);
    EXPECT_EQ(g["snapshot"]["checkpoint"]["diff"], !extra.empty());
    const nlohmann::json r = run_stats({"restore", out, "--lazy"}, &restored);
    ASSERT_EQ(restored.exit_code, 0) << restored.err;
    EXPECT_EQ(memfill_line(restored.out), memfill_line(whole.out));
    EXPECT_EQ(r["vms"][0]["instructions"], w["vms"][0]["instructions"]);
    EXPECT_EQ(r["snapshot"]["chain_depth"], extra.empty() ? 1 : 2);
  }
  for (const std::string& f : {base, full, diff}) std::remove(f.c_str());
}

// --save then --rollback-every: the rounds run on the VM that goes on from the template.
TEST(TemplateSave, ARollbackLoopRunsOnTheVmThatGoesOn) {
  const std::string file = temp_path("tpl-rollback.snap");
  const std::vector<std::string> base = {"run", "--check-mmu", "--cmdline", "workload=ptrandom steps=800"};
  CliResult plain, looped, restored;
  const nlohmann::json p = run_stats(base, &plain);
  const nlohmann::json l = run_stats(
      with(base, {"--checkpoint-at", "500000", "--save", file, "--rollback-every", "1000000", "--rollbacks", "2"}),
      &looped);
  ASSERT_EQ(looped.exit_code, 0) << looped.err;
  const nlohmann::json& rounds = l["snapshot"]["rollbacks"]["rounds"];
  ASSERT_EQ(rounds.size(), 2u);
  EXPECT_GT(rounds[0]["pages_restored"].get<uint64_t>(), 0u);
  EXPECT_EQ(rounds[0]["pages_restored"], rounds[1]["pages_restored"]);
  EXPECT_EQ(l["vms"][0]["instructions"], p["vms"][0]["instructions"]);
  const std::string last = plain.out.substr(plain.out.rfind('\n', plain.out.size() - 2) + 1);
  EXPECT_EQ(looped.out.substr(looped.out.size() - last.size()), last);
  restored = run_densevm({"restore", file});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(restored.out.substr(restored.out.size() - last.size()), last);
  std::remove(file.c_str());
}

// The final name is a directory: the rename fails after the whole write, the guest still
// runs to its end, and the error is one line with a non-zero exit and no file left behind.
TEST(TemplateSave, AFailedBackgroundSaveIsOneLineANonZeroExitAndNoFile) {
  namespace fs = std::filesystem;
  const fs::path dir = temp_path("tpl-fail");
  const fs::path target = dir / "taken";
  fs::create_directories(target / "inside");
  CliResult whole, r;
  (void)run_stats(with({"run"}, kMemfill), &whole);
  const nlohmann::json s =
      run_stats(with({"run"}, with(kMemfill, {"--checkpoint-at", "3000000", "--save", target.string()})), &r);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, whole.out) << "the guest ran to its end";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("densevm: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(target.string()), std::string::npos) << r.err;
  EXPECT_EQ(s["snapshot"]["saved"], false);
  EXPECT_TRUE(fs::is_directory(target));
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 1u) << "a temp file was left in " << dir;
  fs::remove_all(dir);
}

// K clones of a running VM: vm0..vmK-1 go on from the checkpoint, each with a generation id
// of its own, the same lines whatever the threads; with --save the template is saved too.
TEST(TemplateClones, EachCloneGetsItsOwnIdAndTheRunRepeatsWhateverTheThreads) {
  const std::string file = temp_path("tpl-clones.snap");
  const std::vector<std::string> args = with({"run"}, with(kGenid, {"--checkpoint-at", "100000", "--clones", "3"}));
  CliResult one, two;
  const nlohmann::json s1 = run_stats(with(args, {"--threads", "1"}), &one);
  const nlohmann::json s2 = run_stats(with(args, {"--threads", "2", "--save", file}), &two);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  // Before the checkpoint, one VM printed its boot id without a prefix.
  ASSERT_EQ(one.out.rfind("densevm-guest", 0), 0u) << one.out;
  const size_t boot = one.out.find("\ngenid ");
  ASSERT_NE(boot, std::string::npos) << one.out;
  const std::string boot_id = one.out.substr(boot + 7, 32);
  std::vector<std::string> ids;
  for (int k = 0; k < 3; ++k) {
    const std::string tag = "[vm" + std::to_string(k) + "] genid ";
    const size_t at = one.out.find(tag);
    ASSERT_NE(at, std::string::npos) << one.out;
    ids.push_back(one.out.substr(at + tag.size(), 32));
    EXPECT_NE(ids.back(), boot_id);
    EXPECT_NE(one.out.find("[vm" + std::to_string(k) + "] genid ok changes=2"), std::string::npos) << one.out;
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
  EXPECT_EQ(sorted_lines(one.out), sorted_lines(two.out));
  EXPECT_EQ(without_host_facts(s1["vms"]), without_host_facts(s2["vms"]));
  ASSERT_EQ(s1["vms"].size(), 3u);
  for (const nlohmann::json& snap : {s1["snapshot"], s2["snapshot"]}) {
    EXPECT_EQ(snap["clones"], 3);
    EXPECT_EQ(snap["checkpoint_at"], 100000u);
    EXPECT_TRUE(snap["clone_seconds"].is_number()) << snap;
    EXPECT_TRUE(snap["clone_faults"].is_number_unsigned()) << snap;
    EXPECT_TRUE(snap["pause_seconds"].is_number()) << snap;
    EXPECT_TRUE(snap["pause_faults"].is_number_unsigned()) << snap;
    EXPECT_GT(snap["pages_fetched"].get<uint64_t>(), 0u);
  }
  EXPECT_EQ(s1["snapshot"]["saved"], false);
  EXPECT_EQ(s2["snapshot"]["saved"], true);
  EXPECT_TRUE(s2["snapshot"]["save_seconds"].is_number());

  // The file is the template: its restore is one more copy, with an id of its own again.
  CliResult restored;
  restored = run_densevm({"restore", file});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_NE(restored.out.find("genid ok changes=2"), std::string::npos) << restored.out;
  for (const std::string& id : ids) EXPECT_EQ(restored.out.find(id), std::string::npos);
  std::remove(file.c_str());
}

TEST(TemplateClones, BadCombinationsGetOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--clones", "3"},
           {"run", "--checkpoint-at", "1000", "--clones", "0"},
           {"run", "--checkpoint-at", "1000", "--clones", "4097"},
           {"run", "--checkpoint-at", "1000", "--clones", "2", "--rollback-every", "10"},
           {"run", "--vms", "2", "--checkpoint-at", "1000", "--clones", "2"},
           {"run", "--checkpoint-at", "1000", "--clones", "2", "--diff", "--save", "f"}}) {
    const CliResult r = run_densevm(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// The run's host services go on serving the VM (or the clones) going on from the template:
// a balloon target and page sharing give the same guest run as without the checkpoint.
TEST(TemplateSave, BalloonTargetsAndPageSharingServeTheVmsGoingOn) {
  const std::vector<std::string> services = {"--dedup", "on", "--dedup-rate", "max", "--balloon-target", "48M"};
  const std::string file = temp_path("tpl-services.snap");
  CliResult whole, saved;
  const nlohmann::json w = run_stats(with({"run"}, with(kMemfill, services)), &whole);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const nlohmann::json s = run_stats(
      with({"run"}, with(kMemfill, with(services, {"--checkpoint-at", "3000000", "--save", file}))), &saved);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(saved.out, whole.out);
  expect_same_guest_counters(s["vms"][0], w["vms"][0]);
  EXPECT_EQ(s["vms"][0]["balloon"]["actual_pages"], 4096u) << "16 MiB given back, before and after";
  EXPECT_GT(s["dedup"]["merges"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["snapshot"]["saved"], true);

  // Clones of a VM with page sharing on: their private copies of the same pages merge again.
  CliResult cloned;
  const nlohmann::json c = run_stats(
      with({"run"}, with(kMemfill, with(services, {"--checkpoint-at", "3000000", "--clones", "3"}))), &cloned);
  ASSERT_EQ(cloned.exit_code, 0) << cloned.err;
  ASSERT_EQ(c["vms"].size(), 3u);
  for (const auto& vm : c["vms"]) EXPECT_EQ(vm["balloon"]["actual_pages"], 4096u);
  EXPECT_GT(c["dedup"]["merges"].get<uint64_t>(), s["dedup"]["merges"].get<uint64_t>());
  EXPECT_GT(c["dedup"]["cross_group_frames"].get<uint64_t>() + c["dedup"]["sharing_pages"].get<uint64_t>(), 0u);
  std::filesystem::remove(file);
}

// A static balloon target is the same in every round of a rollback loop.
TEST(TemplateSave, ARollbackLoopWithABalloonTargetRepeats) {
  CliResult r;
  const nlohmann::json d = run_stats(with({"run"}, with(kMemfill, {"--balloon-target", "48M", "--checkpoint-at", "3000000",
                                                                  "--rollback-every", "1000000", "--rollbacks", "3"})),
                                     &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json& rounds = d["snapshot"]["rollbacks"]["rounds"];
  ASSERT_EQ(rounds.size(), 3u);
  for (const auto& round : rounds) EXPECT_EQ(round["pages_restored"], rounds[0]["pages_restored"]);
  EXPECT_EQ(d["vms"][0]["balloon"]["actual_pages"], 4096u);
}

// A fleet checkpoint: every VM of `run --vms N` stops at the checkpoint, each is saved to a
// file of its own while all go on, and the run is the one without the checkpoint.
TEST(TemplateFleet, EveryVmIsSavedToItsOwnFileAndTheRunGoesOnAsWithout) {
  const std::vector<std::string> fleet = {"--vms", "3", "--dedup", "on", "--threads", "2"};
  const std::string file = temp_path("fleet.snap");
  CliResult whole, saved;
  const nlohmann::json w = run_stats(with({"run"}, with(kMemfill, fleet)), &whole);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const nlohmann::json s =
      run_stats(with({"run"}, with(kMemfill, with(fleet, {"--checkpoint-at", "3000000", "--save", file}))), &saved);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(sorted_lines(saved.out), sorted_lines(whole.out));
  ASSERT_EQ(s["vms"].size(), 3u);
  for (size_t k = 0; k < 3; ++k) expect_same_guest_counters(s["vms"][k], w["vms"][k]);
  EXPECT_GT(s["dedup"]["merges"].get<uint64_t>(), 0u);
  const nlohmann::json& per_vm = s["snapshot"]["vms"];
  ASSERT_EQ(per_vm.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    const std::string mine = per_vm[k]["file"];
    EXPECT_NE(mine.find("fleet.vm" + std::to_string(k) + ".snap"), std::string::npos) << mine;
    EXPECT_EQ(per_vm[k]["saved"], true);
    EXPECT_EQ(per_vm[k]["checkpoint_at"], 3000000u);
    EXPECT_EQ(std::filesystem::file_size(mine), per_vm[k]["file_bytes"].get<uint64_t>());
  }
  // VM 1's file holds VM 1: restored alone, it ends as VM 1 of the fleet did.
  CliResult one;
  const nlohmann::json r = run_stats({"restore", per_vm[1]["file"]}, &one);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::string line = memfill_line(one.out);
  ASSERT_FALSE(line.empty()) << one.out;
  EXPECT_NE(whole.out.find("[vm1] " + line), std::string::npos) << line << "\n" << whole.out;
  EXPECT_EQ(r["vms"][0]["instructions"], w["vms"][1]["instructions"]);
  for (const auto& f : per_vm) std::filesystem::remove(f["file"].get<std::string>());
}

TEST(TemplateFleet, ARollbackLoopRollsEveryVmBackAndRepeats) {
  CliResult r;
  const nlohmann::json d = run_stats(with({"run"}, with(kMemfill, {"--vms", "2", "--checkpoint-at", "3000000",
                                                                  "--rollback-every", "1000000", "--rollbacks", "3"})),
                                     &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json& rounds = d["snapshot"]["rollbacks"]["rounds"];
  ASSERT_EQ(rounds.size(), 3u);
  EXPECT_GT(rounds[0]["pages_restored"].get<uint64_t>(), 0u);
  for (const auto& round : rounds) {
    EXPECT_EQ(round["instructions"], 2000000u) << "1000000 for each of the two VMs";
    EXPECT_EQ(round["pages_restored"], rounds[0]["pages_restored"]);
  }
  const CliResult never = run_densevm(with({"run"}, with(kMemfill, {"--vms", "2", "--checkpoint-at", "100000000000", "--save",
                                                    temp_path("never.snap")})));
  EXPECT_EQ(never.exit_code, 1);
  EXPECT_NE(never.err.find("ended before --checkpoint-at"), std::string::npos) << never.err;
  EXPECT_FALSE(std::filesystem::exists(temp_path("never.vm0.snap")));
}

}  // namespace
}  // namespace densevm::testing
