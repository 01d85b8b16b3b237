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
