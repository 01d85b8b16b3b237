// densevm plan checked against reality: snapshots of guests with different page mixes are
// fingerprinted, `plan fit` predicts the host memory of the three with dedup, and `restore A
// B C --dedup on` runs the same three as one fleet: its frames and anonymous RSS must come
// within 5% of the prediction. And every kind of bad planner input is refused in one line,
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
  const CliResult p = run_densevm({"plan", "fit", "--host-mem", "8G", fp("A"), fp("B"), fp("C"), "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  const nlohmann::json plan = nlohmann::json::parse(p.out);
  const double predicted = plan["techniques"]["dedup"]["host_bytes"].get<double>();
  EXPECT_LT(predicted, plan["techniques"]["zero"]["host_bytes"].get<double>()) << "the mixes share pages";

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
  const double anon = stats["host"]["rss_anon_bytes"].get<double>();
  EXPECT_LT(std::abs(frames - predicted) / predicted, 0.05) << "frames " << frames << " predicted " << predicted;
  EXPECT_LT(std::abs(anon - predicted) / predicted, 0.05) << "RssAnon " << anon << " predicted " << predicted;
  std::printf("plan: dedup predicted %.1f MiB; restored fleet: frames %.1f MiB (%+.2f%%), RssAnon %.1f MiB (%+.2f%%), "
              "VmRSS %.1f MiB (%+.2f%%)\n", predicted / 1048576, frames / 1048576, 100 * (frames - predicted) / predicted,
              anon / 1048576, 100 * (anon - predicted) / predicted, stats["host"]["rss_bytes"].get<double>() / 1048576,
              100 * (stats["host"]["rss_bytes"].get<double>() - predicted) / predicted);
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
  // A damaged fingerprint.
  std::filesystem::resize_file(out + "/A.snap.fp", 100);
  expect_refused(run_densevm({"plan", "fit", "--host-mem", "8G", out + "/A.snap.fp"}), "A.snap.fp");
}

}  // namespace
}  // namespace densevm::testing
