// The translator end to end (issue 16): every workload of the built-in guest runs with
// --cpu interp, translate and auto, and the guest must see the same — console output, exit
// status, retired instructions, exceptions, interrupts, timer ticks, page faults and every
// MMU and memory counter — while translated code really ran.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

// What the guest can see or cause, from one VM's --stats entry: everything but the
// translator's own counters and the decoded-instruction cache's (which translated code
// bypasses).
nlohmann::json guest_visible(const nlohmann::json& vm) {
  nlohmann::json v = without_host_facts(vm);
  v["cpu"].erase("translate");
  v["cpu"].erase("decoded_instructions");
  return v;
}

// Console lines in order of text: clones print theirs in whatever order the host threads run.
std::vector<std::string> sorted_lines(const std::string& out) {
  std::vector<std::string> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

class TranslateE2e : public ::testing::TestWithParam<const char*> {};

TEST_P(TranslateE2e, EveryCpuModeGivesTheGuestTheSameRun) {
  const std::vector<std::string> args = {"run", "--mem", "128M", "--slice", "100000", "--cmdline", GetParam()};
  CliResult ref_run;
  const nlohmann::json ref = run_stats(with(args, {"--cpu", "interp"}), &ref_run);
  ASSERT_EQ(ref_run.exit_code, 0) << ref_run.err;
  ASSERT_TRUE(ref.contains("vms")) << ref_run.err;
  EXPECT_EQ(ref["vms"][0]["cpu"]["translate"]["retired_translated"], 0);
  for (const char* mode : {"translate", "auto"}) {
    CliResult r;
    const nlohmann::json s = run_stats(with(args, {"--cpu", mode}), &r);
    ASSERT_TRUE(s.contains("vms")) << mode << "\n" << r.err;
    EXPECT_EQ(r.exit_code, ref_run.exit_code) << mode;
    EXPECT_EQ(r.out, ref_run.out) << "--cpu " << mode << " changed the console output";
    EXPECT_EQ(guest_visible(s["vms"][0]), guest_visible(ref["vms"][0])) << "--cpu " << mode;
    // Most of the run was translated code, not the interpreter.
    const nlohmann::json& t = s["vms"][0]["cpu"]["translate"];
    const uint64_t retired = s["vms"][0]["instructions"];
    EXPECT_GT(t["blocks_translated"].get<uint64_t>(), 0u) << mode;
    EXPECT_GT(t["retired_translated"].get<uint64_t>(), retired / 2) << mode;
    EXPECT_GT(t["cache_bytes"].get<uint64_t>(), 0u) << mode;
    // The VMM's own memory for the VM: its translations are the translator's cache, its
    // decoded pages and tables are there, and the translations are all that the mode adds.
    const nlohmann::json& vmm = s["vms"][0]["vmm"];
    EXPECT_EQ(vmm["translation_bytes"], t["cache_bytes"]) << mode;
    EXPECT_GT(vmm["decode_cache_bytes"].get<uint64_t>(), 1024u) << mode << ": a code page's lines and records at least";
    EXPECT_LE(vmm["decode_cache_bytes"].get<uint64_t>(), 33u << 20) << mode << ": within the decode cache's bound";
    EXPECT_GT(vmm["p2m_table_bytes"].get<uint64_t>(), 4096u) << mode;
    EXPECT_EQ(vmm["soft_tlb_bytes"], ref["vms"][0]["vmm"]["soft_tlb_bytes"]) << mode;
    EXPECT_EQ(vmm["p2m_table_bytes"], ref["vms"][0]["vmm"]["p2m_table_bytes"]) << mode << ": the same guest memory";
  }
  EXPECT_EQ(ref["vms"][0]["vmm"]["translation_bytes"], 0) << "--cpu interp translates nothing";
  EXPECT_GT(ref["host"]["rss_anon_bytes"].get<uint64_t>(), 0u);
  EXPECT_TRUE(ref["host"]["shmem_bytes"].is_number_unsigned());
}

INSTANTIATE_TEST_SUITE_P(Workloads, TranslateE2e,
                         ::testing::Values("workload=hello", "workload=memfill size=8M hold=2 free=1",
                                           "workload=ptchurn rounds=16", "workload=ptrandom steps=1500",
                                           "workload=tlbwalk size=4M steps=200000", "workload=idle ticks=20",
                                           "workload=compute size=256K rounds=2"));

// A checkpoint, rollbacks and clones with the translator on: the same console lines as the
// interpreter's.
TEST(TranslateE2eSnapshots, RollbacksAndClonesSeeTheSame) {
  for (const std::vector<std::string>& tail :
       {std::vector<std::string>{"--checkpoint-at", "3000000", "--rollback-every", "500000", "--rollbacks", "3"},
        std::vector<std::string>{"--checkpoint-at", "3000000", "--clones", "3"}}) {
    const std::vector<std::string> args =
        with({"run", "--mem", "64M", "--cmdline", "workload=memfill size=8M seed=5"}, tail);
    const CliResult a = run_densevm(with(args, {"--cpu", "interp"}));
    const CliResult b = run_densevm(with(args, {"--cpu", "translate"}));
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(b.exit_code, 0) << b.err;
    EXPECT_EQ(sorted_lines(b.out), sorted_lines(a.out));
  }
}

// Clones of a template in memory run its translations (--share-translations on, the
// default) or translate their own (off): the guest sees the same — output and every guest
// counter of every clone — and sharing really reuses the template's blocks.
TEST(TranslateE2eSnapshots, ClonesShareTheTemplatesTranslations) {
  const std::vector<std::string> args = {"run",        "--mem",        "64M",     "--cpu",    "auto",
                                         "--cmdline",  "workload=compute size=256K rounds=2",
                                         "--checkpoint-at", "6000000", "--clones", "3"};
  CliResult on_run, off_run;
  const nlohmann::json on = run_stats(with(args, {"--share-translations", "on"}), &on_run);
  const nlohmann::json off = run_stats(with(args, {"--share-translations", "off"}), &off_run);
  ASSERT_EQ(on_run.exit_code, 0) << on_run.err;
  ASSERT_EQ(off_run.exit_code, 0) << off_run.err;
  EXPECT_EQ(sorted_lines(on_run.out), sorted_lines(off_run.out));
  ASSERT_EQ(on["vms"].size(), 3u);
  ASSERT_EQ(off["vms"].size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(guest_visible(on["vms"][k]), guest_visible(off["vms"][k])) << "clone " << k;
    const nlohmann::json& shared = on["vms"][k]["cpu"]["translate"];
    const nlohmann::json& own = off["vms"][k]["cpu"]["translate"];
    EXPECT_GT(shared["shared_reused"].get<uint64_t>(), 5u) << k;
    EXPECT_GT(shared["shared_bytes"].get<uint64_t>(), 0u) << k;
    EXPECT_EQ(own["shared_reused"], 0) << k;
    EXPECT_EQ(own["shared_bytes"], 0) << k;
    // The clone translates less of its own than one that shares nothing.
    EXPECT_LT(shared["blocks_translated"].get<uint64_t>(), own["blocks_translated"].get<uint64_t>()) << k;
    EXPECT_LT(shared["cache_bytes"].get<uint64_t>(), own["cache_bytes"].get<uint64_t>()) << k;
  }
}

// A rollback keeps the translations: it puts back only pages that changed, and only those
// drop theirs (memfill writes data, never its code), so four rounds translate no block the
// first did not, while translated code runs every round.
TEST(TranslateE2eSnapshots, RollbacksKeepTheTranslations) {
  nlohmann::json rounds[2];
  int k = 0;
  for (const char* n : {"1", "4"}) {
    CliResult r;
    rounds[k] = run_stats({"run", "--mem", "64M", "--cpu", "translate", "--cmdline", "workload=memfill size=8M seed=5",
                           "--checkpoint-at", "3000000", "--rollback-every", "500000", "--rollbacks", n},
                          &r);
    ASSERT_TRUE(rounds[k].contains("vms")) << r.err;
    ++k;
  }
  const nlohmann::json& one = rounds[0]["vms"][0]["cpu"]["translate"];
  const nlohmann::json& four = rounds[1]["vms"][0]["cpu"]["translate"];
  EXPECT_GT(one["blocks_translated"].get<uint64_t>(), 100u);
  EXPECT_EQ(four["blocks_translated"], one["blocks_translated"]);
  EXPECT_EQ(four["blocks_invalidated"], one["blocks_invalidated"]);
  EXPECT_GE(four["retired_translated"].get<uint64_t>(), one["retired_translated"].get<uint64_t>() + 3 * 400000);
}

}  // namespace
}  // namespace densevm::testing
