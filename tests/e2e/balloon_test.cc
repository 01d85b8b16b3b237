// End-to-end tests of the virtio-balloon: a real guest fills then frees memory, and the host
// gets it back, measured as the kernel reports it (VmHWM and VmRSS of the densevm process).
//
// How the measurement is honest: the stats document is written after every guest has
// exited but while every VM (its P2M, its frames) still exists, so `host.rss_bytes` is what
// the VMs hold after the balloon settled during `linger`, and `host.peak_rss_bytes` is what
// they held full. A control run with the driver off (balloon=0) must show no such drop.
// Under --host-budget a VM that stopped gives its RAM back, so there the balloon's share is
// read from the frames it freed (`discarded_pages`) while the guests lingered.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kPage = 4096;
const char kFill[] = "workload=memfill size=400M free=1 linger=100";

uint64_t rss_drop(const nlohmann::json& doc) {
  const uint64_t peak = doc["host"]["peak_rss_bytes"], end = doc["host"]["rss_bytes"];
  return peak > end ? peak - end : 0;
}

TEST(Balloon, TakesBackMemoryTheGuestFreed) {
  CliResult r;
  const nlohmann::json doc =
      run_stats({"run", "--mem", "512M", "--balloon-target", "64M", "--cmdline",
                 std::string(kFill) + " balloon_report=0"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("memfill ok "), std::string::npos) << r.out;
  ASSERT_TRUE(doc.is_object());
  const nlohmann::json& vm = doc["vms"][0];
  EXPECT_EQ(vm["balloon"]["target_pages"], (512 - 64) * kMiB / kPage);
  EXPECT_EQ(vm["balloon"]["actual_pages"], vm["balloon"]["target_pages"]);
  EXPECT_EQ(vm["memory"]["ballooned_pages"], vm["balloon"]["actual_pages"]);
  EXPECT_EQ(vm["memory"]["ballooned_pages"].get<uint64_t>(),
            vm["balloon"]["inflated_total"].get<uint64_t>() -
                vm["balloon"]["deflated_total"].get<uint64_t>());
  EXPECT_GT(vm["balloon"]["deflated_total"].get<uint64_t>(), 0u)
      << "memfill needed ballooned memory back: DEFLATE_ON_OOM";
  EXPECT_GE(rss_drop(doc), 300 * kMiB) << doc.dump(2);
}

// host.marker_samples: memory while the guest runs, at its marker (memfill marks once
// filled), where the end-of-run figures come after the guest exited.
TEST(Balloon, AMarkerSamplesHostMemoryWhileTheGuestRuns) {
  CliResult r;
  const nlohmann::json doc =
      run_stats({"run", "--mem", "256M", "--cmdline", "workload=memfill size=128M mark=1"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(doc.is_object());
  const nlohmann::json& samples = doc["host"]["marker_samples"];
  ASSERT_EQ(samples.size(), 1u) << doc["host"].dump(2);
  EXPECT_EQ(samples[0]["vm"], 0);
  EXPECT_EQ(samples[0]["marker"], 1);
  EXPECT_GE(samples[0]["resident_pages"].get<uint64_t>(), 128 * kMiB / kPage);
  EXPECT_GE(samples[0]["rss_bytes"].get<uint64_t>(), 128 * kMiB);
  EXPECT_EQ(samples[0]["ballooned_pages"], 0);
  const nlohmann::json none = run_stats({"run", "--cmdline", "workload=memfill size=1M"}, &r);
  ASSERT_TRUE(none.is_object());
  EXPECT_EQ(none["host"]["marker_samples"], nlohmann::json::array()) << "no marker, no sample";
}

TEST(Balloon, WithoutTheDriverNothingComesBack) {
  CliResult r;
  const nlohmann::json doc =
      run_stats({"run", "--mem", "512M", "--balloon-target", "64M", "--cmdline",
                 std::string(kFill) + " balloon=0"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(doc.is_object());
  EXPECT_LT(rss_drop(doc), 50 * kMiB) << "the control run: the measurement sees no drop";
  EXPECT_EQ(doc["vms"][0]["balloon"]["inflated_total"], 0);
}

TEST(Balloon, FreePageReportingAloneReturnsFreedMemory) {
  CliResult r;
  const nlohmann::json doc = run_stats({"run", "--mem", "512M", "--cmdline", kFill}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(doc.is_object());
  EXPECT_GE(doc["vms"][0]["balloon"]["reported_free_pages"].get<uint64_t>(), 300 * kMiB / kPage);
  EXPECT_GE(rss_drop(doc), 300 * kMiB) << doc.dump(2);
}

TEST(Balloon, MemoryComesBackUsableUnderAFullBalloon) {
  // The balloon holds all but 64 MiB from boot on; memfill needs 400 MiB and verifies every
  // page: pages ballooned and handed back (fresh zero frames) must hold what it wrote.
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--mem", "512M", "--balloon-target", "64M", "--cmdline",
       "workload=memfill size=400M hold=5"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("memfill ok "), std::string::npos) << r.out;
  ASSERT_TRUE(doc.is_object());
  EXPECT_GT(doc["vms"][0]["balloon"]["deflated_total"].get<uint64_t>(), 300 * kMiB / kPage);
}

// --huge-frames on: the guest's frames come from 2 MiB chunks (transparent huge pages where
// the host has them); what the balloon takes splits its chunk and still leaves the process.
TEST(Balloon, TakesBackMemoryUnderHugeFrames) {
  CliResult r;
  const nlohmann::json doc =
      run_stats({"run", "--mem", "512M", "--balloon-target", "64M", "--huge-frames", "on", "--cmdline",
                 std::string(kFill) + " balloon_report=0"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("memfill ok "), std::string::npos) << r.out;
  ASSERT_TRUE(doc.is_object());
  const nlohmann::json& host = doc["host"];
  EXPECT_GE(host["huge_frames"].get<uint64_t>(), 64 * kMiB / kPage) << host.dump(2);
  EXPECT_GT(host["huge_chunks_split"].get<uint64_t>(), 0u) << host.dump(2);
  EXPECT_GE(rss_drop(doc), 300 * kMiB) << doc.dump(2);
  // What stays mapped with 2 MiB pages is at most what the guest still holds.
  EXPECT_LE(host["anon_huge_bytes"].get<uint64_t>(), 128 * kMiB) << host.dump(2);
}

// The guest sees nothing of --huge-frames: same console, same counters, same memory.
TEST(Balloon, HugeFramesAreInvisibleToTheGuest) {
  const auto run = [](const char* huge, CliResult& r) {
    return run_stats({"run", "--mem", "256M", "--huge-frames", huge, "--cmdline",
                      "workload=memfill size=96M free=1 linger=20"}, &r);
  };
  CliResult off_run;
  CliResult on_run;
  const nlohmann::json off = run("off", off_run);
  const nlohmann::json on = run("on", on_run);
  ASSERT_EQ(off_run.exit_code, 0) << off_run.out << off_run.err;
  ASSERT_EQ(on_run.exit_code, 0) << on_run.out << on_run.err;
  ASSERT_TRUE(off.is_object() && on.is_object());
  EXPECT_EQ(off_run.out, on_run.out);
  EXPECT_EQ(off["host"]["huge_frames"], 0);
  EXPECT_GE(on["host"]["huge_frames"].get<uint64_t>(), 96 * kMiB / kPage);
  const nlohmann::json& a = off["vms"][0];
  const nlohmann::json& b = on["vms"][0];
  for (const char* key : {"exit_code", "instructions", "virtual_time"}) EXPECT_EQ(a[key], b[key]) << key;
  EXPECT_EQ(a["memory"], b["memory"]);
  EXPECT_EQ(a["balloon"], b["balloon"]);
}

TEST(Balloon, HostBudgetPolicyReclaimsIdleGuests) {
  CliResult r;
  const nlohmann::json doc = run_stats(
      {"run", "--vms", "2", "--mem", "512M", "--host-budget", "256M", "--cmdline",
       "workload=memfill size=300M free=1 linger=150 balloon_report=0"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(doc.is_object());
  uint64_t allocated = 0;
  for (const nlohmann::json& vm : doc["vms"]) {
    const nlohmann::json& b = vm["balloon"];
    EXPECT_GT(b["stats_updates"].get<uint64_t>(), 0u);
    EXPECT_GT(b["target_pages"].get<uint64_t>(), 0u);
    allocated += 512 * kMiB / kPage - b["target_pages"].get<uint64_t>();
    EXPECT_GE(b["discarded_pages"].get<uint64_t>(), 150 * kMiB / kPage)
        << "the balloon gave frames back while the guest lingered";
    EXPECT_LE(b["deflated_total"].get<uint64_t>(), 8 * kMiB / kPage)
        << "a filling guest is not ballooned, so it need not deflate on OOM";
    EXPECT_EQ(vm["memory"]["resident_pages"], 0) << "a VM that exited gave its RAM back";
  }
  EXPECT_LE(allocated, 256 * kMiB / kPage) << "the targets fit the budget";
  EXPECT_GE(rss_drop(doc), 300 * kMiB) << doc.dump(2);
}

// Restored VMs meet a budget as booted ones do: two clones of a snapshot taken right after
// boot fill, free and linger under --host-budget, and the policy takes back what they freed.
TEST(Balloon, RestoredClonesMeetAHostBudget) {
  const std::string file = temp_path("budget.snap");
  std::remove(file.c_str());
  const char fill[] = "workload=memfill size=160M free=1 linger=150 balloon_report=0";
  ASSERT_EQ(run_densevm({"run", "--mem", "256M", "--cmdline", fill, "--checkpoint-at", "100000", "--save", file})
                .exit_code,
            0);
  CliResult r;
  const nlohmann::json doc =
      run_stats({"restore", file, "--clones", "2", "--lazy", "--host-budget", "128M"}, &r);
  std::remove(file.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(doc.is_object());
  ASSERT_EQ(doc["vms"].size(), 2u);
  uint64_t allocated = 0;
  for (const nlohmann::json& vm : doc["vms"]) {
    const nlohmann::json& b = vm["balloon"];
    EXPECT_GT(b["target_pages"].get<uint64_t>(), 0u);
    allocated += 256 * kMiB / kPage - b["target_pages"].get<uint64_t>();
    EXPECT_GE(b["discarded_pages"].get<uint64_t>(), 80 * kMiB / kPage)
        << "the balloon gave frames back while the clone lingered";
    EXPECT_EQ(vm["memory"]["resident_pages"], 0) << "a VM that exited gave its RAM back";
  }
  EXPECT_LE(allocated, 128 * kMiB / kPage) << "the targets fit the budget";
}

TEST(Balloon, BadFlagsAreOneLineErrors) {
  const CliResult r = run_densevm({"run", "--mem", "64M", "--balloon-target", "128M"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--balloon-target"), std::string::npos) << r.err;
  const CliResult both = run_densevm({"restore", "f.snap", "--host-budget", "64M", "--checkpoint-at", "5", "--save", "g"});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--checkpoint-at does not combine with --host-budget"), std::string::npos) << both.err;
  const CliResult twice = run_densevm({"restore", "f.snap", "--host-budget-node", "0:64M", "--host-budget-node", "0:32M"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("names node 0 twice"), std::string::npos) << twice.err;
}

}  // namespace
}  // namespace densevm::testing
