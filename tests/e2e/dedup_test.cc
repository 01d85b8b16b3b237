// End-to-end tests of content-hash page sharing: real guests filling memory with zero,
// shared and unique pages, host memory as the kernel reports it.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

constexpr uint64_t kPage = 4096;

// "[vmK] memfill ok <checksum>" for every K that printed one.
std::map<int, std::string> checksums(const std::string& out) {
  std::map<int, std::string> sums;
  for (size_t at = out.find("] memfill ok "); at != std::string::npos;
       at = out.find("] memfill ok ", at + 1)) {
    const size_t open = out.rfind("[vm", at);
    sums[std::stoi(out.substr(open + 3, at - open - 3))] = out.substr(at + 13, 16);
  }
  return sums;
}

std::vector<std::string> memfill(unsigned vms, const std::string& mem, const std::string& cmdline,
                                 std::vector<std::string> extra) {
  std::vector<std::string> args = {"run", "--vms", std::to_string(vms), "--mem", mem,
                                   "--threads", "2", "--cmdline", "workload=memfill " + cmdline};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

uint64_t u64(const nlohmann::json& j) { return j.get<uint64_t>(); }

// Every page backed by a dedup frame got there by a merge and leaves only by a guest write.
void expect_counters_add_up(const nlohmann::json& doc) {
  const nlohmann::json& d = doc["dedup"];
  EXPECT_EQ(u64(d["merges"]) - u64(d["cow_breaks"]), u64(d["sharing_pages"]) + u64(d["zero_pages"])) << d;
  uint64_t shared = 0, breaks = 0;
  for (const auto& vm : doc["vms"]) {
    shared += u64(vm["memory"]["shared_pages"]);
    breaks += u64(vm["memory"]["cow_breaks"]);
  }
  EXPECT_EQ(shared, u64(d["sharing_pages"]) + u64(d["zero_pages"]));
  EXPECT_EQ(breaks, u64(d["cow_breaks"]));
  EXPECT_EQ(u64(d["verify_mismatches"]), 0u) << "XXH3 collisions are not expected here";
}

TEST(Dedup, FourSimilarGuestsNeedAtMostFiftyFivePercentOfTheHostMemory) {
  const auto args = memfill(4, "128M", "size=96M zero=30 shared=40 unique=30 image=1 hold=40", {});
  CliResult off_run, on_run;
  const nlohmann::json off = run_stats(args, &off_run);
  auto with_dedup = args;
  with_dedup.insert(with_dedup.end(), {"--dedup", "on", "--dedup-rate", "1000000"});
  const nlohmann::json on = run_stats(with_dedup, &on_run);
  ASSERT_EQ(off_run.exit_code, 0) << off_run.err;
  ASSERT_EQ(on_run.exit_code, 0) << on_run.err;
  EXPECT_EQ(off["dedup"]["enabled"], false) << "off unless asked for";
  EXPECT_EQ(on["dedup"]["enabled"], true);

  const auto sums = checksums(on_run.out);
  EXPECT_EQ(sums.size(), 4u) << on_run.out;
  EXPECT_EQ(sums, checksums(off_run.out)) << "every guest verified every page, with the same content";

  // host.rss_bytes is read as the stats are written: the guests have exited but every VM
  // still holds all the memory it filled (memfill free=0; VMs live until the process ends).
  for (int k = 0; k < 4; ++k) {
    EXPECT_GE(u64(on["vms"][k]["memory"]["resident_pages"]), (96u << 20) / kPage);
    EXPECT_EQ(on["vms"][k]["memory"]["resident_pages"], off["vms"][k]["memory"]["resident_pages"]);
  }
  const uint64_t rss_off = u64(off["host"]["rss_bytes"]), rss_on = u64(on["host"]["rss_bytes"]);
  EXPECT_LE(rss_on * 100, rss_off * 55) << "dedup on " << (rss_on >> 20) << " MiB, off " << (rss_off >> 20) << " MiB";

  const nlohmann::json& d = on["dedup"];
  EXPECT_GE(u64(d["full_passes"]), 2u);
  // 30% zero pages of 4 x 96 MiB; 40% shared pages, one copy left of 4.
  EXPECT_GE(u64(d["zero_pages"]), 4 * 7372u);
  EXPECT_GE(u64(d["sharing_pages"]), 4 * 9830u);
  EXPECT_GE(u64(d["bytes_saved"]), uint64_t{200} << 20);
  EXPECT_EQ(u64(on["host"]["frames_shared"]), u64(d["shared_frames"]) + 1) << "plus the zero frame";
  for (int k = 0; k < 4; ++k) EXPECT_GT(u64(on["vms"][k]["memory"]["shared_pages"]), 9830u + 7372u);
  expect_counters_add_up(on);
}

TEST(Dedup, GuestsRewritingSharedPagesWhileTheScannerMergesReadNoWrongByte) {
  const auto args = memfill(4, "64M", "size=16M image=1 hold=8 rewrite=3", {});
  CliResult off_run, on_run;
  (void)run_stats(args, &off_run);
  auto with_dedup = args;
  with_dedup.insert(with_dedup.end(), {"--dedup", "on", "--dedup-rate", "max"});
  const nlohmann::json on = run_stats(with_dedup, &on_run);
  ASSERT_EQ(on_run.exit_code, 0) << on_run.out << on_run.err;
  EXPECT_EQ(on_run.out.find("bad page"), std::string::npos) << on_run.out;
  EXPECT_EQ(checksums(on_run.out).size(), 4u) << on_run.out;
  EXPECT_EQ(checksums(on_run.out), checksums(off_run.out));
  // 40% of 4096 pages per guest rewritten 3 times; most rewrites hit a merged page.
  EXPECT_GE(u64(on["dedup"]["cow_breaks"]), 2 * 4 * 1638u) << on["dedup"];
  EXPECT_GT(u64(on["dedup"]["sharing_pages"]), 3 * 1638u) << "the last round is merged again";
  expect_counters_add_up(on);
}

TEST(Dedup, GroupsWithIdenticalImagesShareNothingAcrossGroupsButZeros) {
  const auto base = memfill(4, "64M", "size=16M image=1 hold=10", {"--groups", "2", "--dedup", "on", "--dedup-rate", "max"});
  auto host_args = base, group_args = base;
  host_args.insert(host_args.end(), {"--dedup-scope", "host"});
  group_args.insert(group_args.end(), {"--dedup-scope", "group"});
  CliResult host_run, group_run;
  const nlohmann::json host = run_stats(host_args, &host_run);
  const nlohmann::json group = run_stats(group_args, &group_run);
  ASSERT_EQ(host_run.exit_code, 0) << host_run.err;
  ASSERT_EQ(group_run.exit_code, 0) << group_run.err;
  EXPECT_EQ(checksums(host_run.out), checksums(group_run.out));

  EXPECT_GT(u64(host["dedup"]["cross_group_frames"]), 1000u);
  EXPECT_EQ(u64(group["dedup"]["cross_group_frames"]), 0u) << "groups {vm0, vm2} and {vm1, vm3}";
  // Same pages shared, but once per group: twice the frames.
  EXPECT_GE(u64(group["dedup"]["shared_frames"]) * 10, u64(host["dedup"]["shared_frames"]) * 19);
  EXPECT_EQ(group["dedup"]["zero_pages"], host["dedup"]["zero_pages"]) << "zero pages cross groups";
  EXPECT_LT(u64(group["dedup"]["bytes_saved"]), u64(host["dedup"]["bytes_saved"]));
  expect_counters_add_up(host);
  expect_counters_add_up(group);
}

TEST(Dedup, TheSameFlagsGiveTheSameMergesWhateverTheThreads) {
  auto args = memfill(3, "32M", "size=8M image=2 hold=5", {"--dedup", "on", "--dedup-rate", "300000"});
  CliResult one, two;
  auto one_thread = args;
  one_thread.insert(one_thread.end(), {"--threads", "1"});  // the last --threads wins
  nlohmann::json a = run_stats(one_thread, &one);
  nlohmann::json b = run_stats(args, &two);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_GT(u64(a["dedup"]["merges"]), 0u);
  a["dedup"].erase("scan_seconds");  // host time, the one figure allowed to differ
  b["dedup"].erase("scan_seconds");
  EXPECT_EQ(a["dedup"], b["dedup"]);
  for (int k = 0; k < 3; ++k) EXPECT_EQ(a["vms"][k]["memory"], b["vms"][k]["memory"]) << k;
}

// The scanner hashes what was written since its last visit, in both MMU modes (EPT D bits;
// shadow leaves are writable only once D is set): a held guest's pages are hashed at the
// fill and then skipped as clean pass after pass, and the zero and shared pages merge.
// Once passes merge nothing they come further apart (ScanRate's back-off, up to one per
// 320 virtual ms; without it the 8 MiB guests would get one per 20-30 ms).
TEST(Dedup, HeldPagesAreHashedOnceThenSkippedAsCleanInBothMmuModes) {
  for (const char* mmu : {"ept", "shadow"}) {
    const auto args = memfill(2, "32M", "size=8M zero=30 shared=40 unique=30 image=1 hold=1000",
                              {"--dedup", "on", "--mmu", mmu});
    CliResult run;
    const nlohmann::json doc = run_stats(args, &run);
    ASSERT_EQ(run.exit_code, 0) << mmu << run.err;
    EXPECT_EQ(checksums(run.out).size(), 2u) << run.out;
    const nlohmann::json& d = doc["dedup"];
    EXPECT_GE(u64(d["full_passes"]), 8u) << mmu;
    EXPECT_LT(u64(d["full_passes"]) * 160'000'000, u64(doc["vms"][0]["virtual_time"]))
        << "passes that merge nothing back off: on average over 160 virtual ms apart" << d;
    EXPECT_GT(u64(d["pages_clean"]), 4 * u64(d["pages_hashed"])) << mmu << d;
    EXPECT_GE(u64(d["pages_hashed"]), 2 * 2048u * 3 / 10) << "the unique pages, at least once";
    EXPECT_LE(u64(d["pages_hashed"]) + u64(d["pages_clean"]), u64(d["pages_scanned"]));
    EXPECT_GE(u64(d["zero_pages"]), 2 * 614u) << mmu;      // 30% of 2048 pages, each guest
    EXPECT_GE(u64(d["sharing_pages"]), 2 * 819u) << mmu;   // 40%, one frame for both
    expect_counters_add_up(doc);
  }
}

TEST(Dedup, BadFlagsGetOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--dedup", "maybe"}, "--dedup takes on or off"},
      {{"run", "--dedup-rate", "0"}, "--dedup-rate takes a whole number"},
      {{"run", "--dedup-rate", "fast"}, "--dedup-rate takes a whole number"},
      {{"run", "--dedup-scope", "rack"}, "--dedup-scope takes host, group or vm"},
      {{"run", "--groups", "0"}, "--groups takes a whole number"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = run_densevm(args);
    EXPECT_NE(r.exit_code, 0) << message;
    EXPECT_LT(r.exit_code, 128) << "crashed: " << message;
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr was: " << r.err;
  }
}

}  // namespace
}  // namespace densevm::testing
