// densevm plan checked against reality: snapshots of guests with different page mixes are
// fingerprinted, `plan fit` predicts the host memory of the three with dedup, and `restore A
// B C --dedup on` runs the same three as one fleet: its frames must come within 5% of the
// predicted guest pages, its anonymous RSS within 5% of those plus the VMM's own memory as
// `--vmm-overhead auto --guest-code small` models it. And every kind of bad planner input is refused in one line,
// leaving nothing under the output name.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

// memfill mixes: two VMs of one image (its shared pages alike) and one of another; each
// holds its memory (linger) long enough after checking it for dedup to merge what it reads.
struct Guest {
  const char* name;
  const char* mix;
};
constexpr Guest kGuests[] = {{"A", "zero=30 shared=40 unique=30 image=1 seed=1"},
                             {"B", "zero=30 shared=40 unique=30 image=1 seed=2"},
                             {"C", "zero=20 shared=70 unique=10 image=2 seed=3"}};

void expect_refused(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.exit_code & 128, 0) << "crashed";
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

// Each test runs in a process of its own (gtest_discover_tests): the snapshots are made by the
// test that needs them.
class Plan : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_path("plan-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string snap(const std::string& name) const { return dir_ + "/" + name + ".snap"; }
  std::string fp(const std::string& name) const { return dir_ + "/" + name + ".snap.fp"; }
  // The three guests run to their marker and saved there; their memfill lines.
  std::vector<std::string> save_guests() const {
    std::vector<std::string> lines;
    for (const Guest& g : kGuests) {
      const CliResult r = run_densevm({"run", "--mem", "512M", "--cmdline",
                                       std::string("workload=memfill size=384M ") + g.mix + " mark=1 hold=20 linger=100",
                                       "--checkpoint-at", "marker", "--save", snap(g.name)});
      EXPECT_EQ(r.exit_code, 0) << r.err;
      lines.push_back(memfill_line(r.out));
    }
    return lines;
  }

  std::string dir_;
};

TEST_F(Plan, PredictsTheHostMemoryOfTheFleetRestoredWithDedupWithinFivePercent) {
  const std::vector<std::string> lines = save_guests();
  const CliResult f = run_densevm({"plan", "fingerprint", snap("A"), snap("B"), snap("C"), "-o", dir_});
  ASSERT_EQ(f.exit_code, 0) << f.err;
  const CliResult p =
      run_densevm({"plan", "fit", "--host-mem", "8G", "--guest-code", "small", fp("A"), fp("B"), fp("C"), "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const nlohmann::json plan = nlohmann::json::parse(p.out);
  const double predicted = plan["techniques"]["dedup"]["guest_bytes"].get<double>();
  const double with_vmm = plan["techniques"]["dedup"]["host_bytes"].get<double>();
  EXPECT_LT(predicted, plan["techniques"]["zero"]["guest_bytes"].get<double>()) << "the mixes share pages";
  EXPECT_EQ(plan["vmm_overhead"]["model"], "auto");
  EXPECT_EQ(plan["vmm_overhead"]["guest_code"], "small");
  EXPECT_GT(with_vmm, predicted);
  // 0 is the plan of the guest pages alone.
  const CliResult p0 = run_densevm({"plan", "fit", "--host-mem", "8G", "--vmm-overhead", "0", fp("A"), fp("B"), fp("C"), "--json"});
  ASSERT_EQ(p0.exit_code, 0) << p0.err;
  const nlohmann::json plan0 = nlohmann::json::parse(p0.out);
  for (const auto& [name, t] : plan0["techniques"].items()) {
    EXPECT_EQ(t["host_bytes"], plan["techniques"][name]["guest_bytes"]) << name;
    EXPECT_EQ(t["vmm_bytes"], 0) << name;
  }

  CliResult r;
  const nlohmann::json stats =
      run_stats({"restore", snap("A"), snap("B"), snap("C"), "--dedup", "on", "--dedup-rate", "1000000"}, &r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The fleet runs on to the same ends as the guests did, each under its own prefix.
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_NE(r.out.find("[vm" + std::to_string(k) + "] " + lines[k]), std::string::npos) << r.out;
  }
  ASSERT_TRUE(stats.is_object());
  EXPECT_EQ(stats["snapshot"]["files"].size(), 3u);
  const double frames = stats["host"]["frames_resident"].get<double>() * 4096;
  // The translator's code is shared memory (a memfd), outside RssAnon.
  const double anon = stats["host"]["rss_anon_bytes"].get<double>() + stats["host"]["shmem_bytes"].get<double>();
  EXPECT_LT(std::abs(frames - predicted) / predicted, 0.05) << "frames " << frames << " predicted " << predicted;
  EXPECT_LT(std::abs(anon - with_vmm) / with_vmm, 0.05) << "RssAnon + Pss_Shmem " << anon << " predicted " << with_vmm;
  std::printf("plan: dedup predicted %.1f MiB of guest pages, %.1f MiB with the VMM's; restored fleet: frames %.1f MiB "
              "(%+.2f%%), RssAnon + Pss_Shmem %.1f MiB (%+.2f%%), VmRSS %.1f MiB (%+.2f%%)\n", predicted / 1048576, with_vmm / 1048576,
              frames / 1048576, 100 * (frames - predicted) / predicted, anon / 1048576, 100 * (anon - with_vmm) / with_vmm,
              stats["host"]["rss_bytes"].get<double>() / 1048576,
              100 * (stats["host"]["rss_bytes"].get<double>() - with_vmm) / with_vmm);
}

TEST_F(Plan, BadInputIsRefusedInOneLineLeavingNothingBehind) {
  const std::string out = dir_ + "/refused";
  std::filesystem::create_directories(out);
  ASSERT_EQ(run_densevm({"run", "--mem", "64M", "--cmdline", "workload=memfill size=16M mark=1", "--checkpoint-at",
                         "marker", "--save", snap("A")}).exit_code, 0);
  // A truncated snapshot.
  {
    std::ifstream in(snap("A"), std::ios::binary);
    std::vector<char> bytes(1 << 20);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::ofstream(dir_ + "/cut.snap", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  expect_refused(run_densevm({"plan", "fingerprint", dir_ + "/cut.snap", "-o", out}), "cut.snap");
  EXPECT_FALSE(std::filesystem::exists(out + "/cut.snap.fp"));
  // A foreign file, and an ELF core that is not a QEMU dump.
  std::ofstream(dir_ + "/notes.txt") << "not a memory image\n";
  expect_refused(run_densevm({"plan", "fingerprint", dir_ + "/notes.txt", "-o", out}), "raw:");
  std::vector<char> core(4096, 0);
  const char ident[] = {0x7f, 'E', 'L', 'F', 2, 1, 1};
  std::copy(std::begin(ident), std::end(ident), core.begin());
  std::ofstream(dir_ + "/process.core", std::ios::binary).write(core.data(), static_cast<std::streamsize>(core.size()));
  expect_refused(run_densevm({"plan", "fingerprint", dir_ + "/process.core", "-o", out}), "process.core");
  // A diff whose parent is missing.
  const std::string base = dir_ + "/base.snap", diff = dir_ + "/diff.snap";
  ASSERT_EQ(run_densevm({"run", "--mem", "64M", "--cmdline", "workload=memfill size=8M hold=5", "--checkpoint-at",
                         "3000000", "--save", base}).exit_code, 0);
  ASSERT_EQ(run_densevm({"restore", base, "--checkpoint-at", "4000000", "--save", diff, "--diff"}).exit_code, 0);
  ASSERT_EQ(run_densevm({"plan", "fingerprint", diff, "-o", out}).exit_code, 0) << "the chain reads whole";
  std::filesystem::remove(out + "/diff.snap.fp");
  std::filesystem::remove(base);
  expect_refused(run_densevm({"plan", "fingerprint", diff, "-o", out}), "base.snap");
  EXPECT_FALSE(std::filesystem::exists(out + "/diff.snap.fp"));
  // A host too small for any VM, and no hosts: no report is left under the name.
  ASSERT_EQ(run_densevm({"plan", "fingerprint", snap("A"), "-o", out}).exit_code, 0);
  const std::string report = out + "/report.html";
  expect_refused(run_densevm({"plan", "report", "--host-mem", "4M", out + "/A.snap.fp", "-o", report}), "too small");
  EXPECT_FALSE(std::filesystem::exists(report));
  EXPECT_FALSE(std::filesystem::exists(out + "/report.json"));
  expect_refused(run_densevm({"plan", "place", "--hosts", "0", "--host-mem", "8G", out + "/A.snap.fp"}), "hosts");
  expect_refused(run_densevm({"plan", "place", "--hosts", "2", "--host-mem", "8M", out + "/A.snap.fp"}), "needs");
  // An overhead that is no size.
  expect_refused(run_densevm({"plan", "place", "--hosts", "2", "--host-mem", "8G", "--vmm-overhead", "much",
                              out + "/A.snap.fp"}), "--vmm-overhead");
  expect_refused(run_densevm({"plan", "fit", "--host-mem", "8G", "--guest-code", "java", out + "/A.snap.fp"}),
                 "--guest-code");
  // A damaged fingerprint.
  std::filesystem::resize_file(out + "/A.snap.fp", 100);
  expect_refused(run_densevm({"plan", "fit", "--host-mem", "8G", out + "/A.snap.fp"}), "A.snap.fp");
}

}  // namespace
}  // namespace densevm::testing
