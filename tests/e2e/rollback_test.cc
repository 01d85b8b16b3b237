// In-memory checkpoints and rollback loops (`--checkpoint-at N --rollback-every M`): every
// round starts from the same machine, so every round does the same work, and the run after
// the loop ends exactly as a run that never rolled back.
#include <gtest/gtest.h>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

std::string last_line(const std::string& out) {
  const size_t end = out.find_last_not_of('\n');
  const size_t begin = out.rfind('\n', end);
  return out.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
}

TEST(Rollback, EveryRoundRepeatsTheSameWorkAndTheRunEndsAsWithout) {
  for (const char* mode : {"ept", "shadow", "auto"}) {
    const std::vector<std::string> base = {"run", "--mmu", mode, "--cmdline",
                                           "workload=ptrandom steps=800"};
    CliResult plain;
    const nlohmann::json whole = run_stats(base, &plain);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;

    std::vector<std::string> looped = base;
    looped.insert(looped.end(), {"--check-mmu", "--checkpoint-at", "500000", "--rollback-every",
                                 "1000000", "--rollbacks", "3"});
    CliResult r;
    const nlohmann::json doc = run_stats(looped, &r);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.err;
    EXPECT_EQ(last_line(r.out), last_line(plain.out)) << "same checksum as the plain run";
    EXPECT_EQ(doc["vms"][0]["instructions"], whole["vms"][0]["instructions"]);
    if (std::string(mode) == "shadow") {
      // Taking the checkpoint retired the whole shadow at once; the fills after it freed it
      // (--check-mmu audits the new shadow meanwhile).
      EXPECT_EQ(whole["vms"][0]["mmu"]["shadow_retirements"], 0u);
      EXPECT_EQ(doc["vms"][0]["mmu"]["shadow_retirements"], 1u);
      EXPECT_GT(doc["vms"][0]["mmu"]["shadow_tables_reclaimed"].get<uint64_t>(), 0u);
    }

    const nlohmann::json& rounds = doc["snapshot"]["rollbacks"]["rounds"];
    ASSERT_EQ(rounds.size(), 3u);
    EXPECT_GT(rounds[0]["pages_restored"].get<uint64_t>(), 0u);
    for (const auto& round : rounds) {
      EXPECT_EQ(round["instructions"], 1000000u);
      EXPECT_EQ(round["pages_restored"], rounds[0]["pages_restored"]) << "rounds differ";
    }
  }
}

// Checkpointed during memfill's hold: each round verifies, frees everything and lingers,
// so free page reporting makes the host discard the filled pages (balloon unmaps, no target
// needed). The rollback must bring them back: the next round verifies them again, and the
// run after the loop ends exactly as without it.
TEST(Rollback, PagesReportedFreeDuringARoundComeBack) {
  for (const char* mode : {"ept", "shadow", "auto"}) {
    const std::vector<std::string> base = {"run", "--mmu", mode, "--cmdline",
                                           "workload=memfill size=8M hold=50 free=1 linger=100"};
    CliResult plain;
    const nlohmann::json whole = run_stats(base, &plain);
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    ASSERT_GT(whole["vms"][0]["balloon"]["discarded_pages"].get<uint64_t>(), 2000u);

    std::vector<std::string> looped = base;
    looped.insert(looped.end(), {"--check-mmu", "--checkpoint-at", "7000000", "--rollback-every",
                                 "700000", "--rollbacks", "3"});
    CliResult r;
    const nlohmann::json doc = run_stats(looped, &r);
    ASSERT_EQ(r.exit_code, 0) << mode << "\n" << r.err;
    const std::string verified = last_line(plain.out);
    ASSERT_EQ(verified.rfind("memfill ok ", 0), 0u) << plain.out;
    size_t lines = 0;
    for (size_t at = r.out.find(verified); at != std::string::npos; at = r.out.find(verified, at + 1)) {
      ++lines;
    }
    EXPECT_EQ(lines, 4u) << "three rounds and the run after them verify the same pages\n" << r.out;
    EXPECT_EQ(doc["vms"][0]["instructions"], whole["vms"][0]["instructions"]);
    EXPECT_EQ(doc["vms"][0]["balloon"], whole["vms"][0]["balloon"]);

    const nlohmann::json& rounds = doc["snapshot"]["rollbacks"]["rounds"];
    ASSERT_EQ(rounds.size(), 3u);
    EXPECT_GT(rounds[0]["pages_restored"].get<uint64_t>(), 2048u) << "the 8 MiB came back";
    for (const auto& round : rounds) {
      EXPECT_EQ(round["pages_restored"], rounds[0]["pages_restored"]) << "rounds differ";
    }
  }
}

// The dedup scanner is saved with the VM and put back each round (its place in the pass, its
// candidates and fingerprints, the frames it owns): every round merges the same pages, and a
// merge the checkpoint puts back is a page as it was, not a page another mechanism holds.
TEST(Rollback, RoundsRepeatWithPageSharing) {
  const std::vector<std::string> base = {"run", "--mem", "64M", "--dedup-rate", "max", "--cmdline",
                                         "workload=memfill size=16M zero=30 shared=40 unique=30 mark=1 hold=50 linger=30"};
  const std::vector<std::string> loop = {"--checkpoint-at", "marker", "--rollback-every", "2000000", "--rollbacks", "3"};
  CliResult plain, unshared, shared;
  const nlohmann::json whole = run_stats(with(base, {"--dedup", "on"}), &plain);
  const nlohmann::json without = run_stats(with(with(base, {"--dedup", "off"}), loop), &unshared);
  const nlohmann::json doc = run_stats(with(with(base, {"--dedup", "on"}), loop), &shared);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(unshared.exit_code, 0) << unshared.err;
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  const nlohmann::json& rounds = doc["snapshot"]["rollbacks"]["rounds"];
  ASSERT_EQ(rounds.size(), 3u);
  const uint64_t restored = rounds[0]["pages_restored"].get<uint64_t>();
  EXPECT_GT(restored, without["snapshot"]["rollbacks"]["rounds"][0]["pages_restored"].get<uint64_t>() + 100)
      << "the scanner merged pages in the round, and the rollback put them back";
  for (const auto& round : rounds) {
    EXPECT_EQ(round["instructions"], 2000000u);
    EXPECT_EQ(round["pages_restored"], restored) << "rounds differ";
  }
  EXPECT_EQ(last_line(shared.out), last_line(plain.out));
  EXPECT_EQ(doc["vms"][0]["instructions"], whole["vms"][0]["instructions"]);
  EXPECT_EQ(doc["dedup"]["pages_scanned"], whole["dedup"]["pages_scanned"]) << "the scan went on where it was";
  EXPECT_EQ(doc["dedup"]["full_passes"], whole["dedup"]["full_passes"]);
}

// The balloon policy is saved with the VMs, its samplers' accessed bits in guest memory too:
// under a host budget every round sees the same targets, the same VMs stopping and giving
// their RAM back, and the run after the loop ends as without it.
TEST(Rollback, RoundsRepeatUnderAHostBudget) {
  const std::vector<std::string> base = {"run", "--vms", "2", "--mem", "128M", "--host-budget", "160M", "--cmdline",
                                         "workload=memfill size=48M free=1 mark=1 hold=20 linger=60"};
  CliResult plain, looped;
  const nlohmann::json whole = run_stats(base, &plain);
  const nlohmann::json doc = run_stats(
      with(base, {"--checkpoint-at", "marker", "--rollback-every", "40000000", "--rollbacks", "3"}), &looped);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(looped.exit_code, 0) << looped.err;
  const nlohmann::json& rounds = doc["snapshot"]["rollbacks"]["rounds"];
  ASSERT_EQ(rounds.size(), 3u);
  EXPECT_GT(rounds[0]["pages_restored"].get<uint64_t>(), 8192u)
      << "in the round the guests freed, ballooned and stopped, giving their RAM back";
  for (const auto& round : rounds) {
    EXPECT_EQ(round["instructions"], rounds[0]["instructions"]);
    EXPECT_EQ(round["pages_restored"], rounds[0]["pages_restored"]) << "rounds differ";
  }
  for (int k = 0; k < 2; ++k) {
    const std::string prefix = "[vm" + std::to_string(k) + "] memfill ok ";
    const size_t at = plain.out.find(prefix);
    ASSERT_NE(at, std::string::npos) << plain.out;
    const std::string verified = plain.out.substr(at, plain.out.find('\n', at) - at);
    size_t lines = 0;
    for (size_t i = looped.out.find(verified); i != std::string::npos; i = looped.out.find(verified, i + 1)) ++lines;
    EXPECT_EQ(lines, 4u) << "three rounds and the run after them verify the same pages\n" << looped.out;
    EXPECT_EQ(doc["vms"][k]["instructions"], whole["vms"][k]["instructions"]) << k;
    EXPECT_EQ(doc["vms"][k]["balloon"], whole["vms"][k]["balloon"]) << k;
  }
}

TEST(Rollback, BadFlagsGetOneLine) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"run", "--checkpoint-at", "1000"},
           {"run", "--checkpoint-at", "1000", "--rollback-every", "0"},
           {"run", "--checkpoint-at", "1000", "--rollback-every", "10", "--compress"}}) {
    const CliResult r = run_densevm(args);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace densevm::testing
