// Snapshot files end to end: checkpoint a running guest, restore it (twice), and compare
// with the uninterrupted run; and every kind of bad snapshot input is refused in one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

const std::vector<std::string> kMemfill = {"--mem", "64M", "--cmdline", "workload=memfill size=8M hold=5"};
constexpr const char* kCheckpointAt = "3000000";

struct Outcome {
  CliResult result;
  nlohmann::json stats;
};

Outcome run_with_stats(std::vector<std::string> args, const std::string& name) {
  const std::string path = temp_path(name + ".json");
  std::remove(path.c_str());
  args.push_back("--stats");
  args.push_back(path);
  Outcome r{run_densevm(args), {}};
  std::ifstream in(path);
  r.stats = nlohmann::json::parse(in, nullptr, false);
  std::remove(path.c_str());
  return r;
}

std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

std::string memfill_line(const std::string& out) {
  const size_t at = out.find("memfill ok ");
  return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// One line on stderr, a non-zero exit, and no guest output: nothing started.
void expect_refused(const CliResult& r, const std::string& needle) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.exit_code & 128, 0) << "crashed";
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
}

class SnapshotFile : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    file_ = new std::string(temp_path("memfill.snap"));
    checkpointed_ = new Outcome(run_with_stats(
        with({"run"}, with(kMemfill, {"--checkpoint-at", kCheckpointAt, "--save", *file_})),
        "checkpointed"));
  }
  static void TearDownTestSuite() {
    std::remove(file_->c_str());
    delete file_;
    delete checkpointed_;
  }
  static std::string* file_;
  static Outcome* checkpointed_;
};
std::string* SnapshotFile::file_ = nullptr;
Outcome* SnapshotFile::checkpointed_ = nullptr;

TEST_F(SnapshotFile, RestoresAreIdenticalAndContinueTheUninterruptedRun) {
  ASSERT_EQ(checkpointed_->result.exit_code, 0) << checkpointed_->result.err;
  const nlohmann::json& saved = checkpointed_->stats["snapshot"];
  EXPECT_EQ(saved["saved"], true);
  EXPECT_GT(saved["file_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(saved["pages_zero_elided"].get<uint64_t>(), 0u);

  const Outcome whole = run_with_stats(with({"run"}, kMemfill), "whole");
  ASSERT_EQ(whole.result.exit_code, 0) << whole.result.err;
  // Checkpointing does not disturb the run that took it.
  EXPECT_EQ(checkpointed_->result.out, whole.result.out);
  EXPECT_EQ(checkpointed_->stats["vms"][0]["instructions"], whole.stats["vms"][0]["instructions"]);

  const Outcome first = run_with_stats({"restore", *file_}, "restore1");
  const Outcome second = run_with_stats({"restore", *file_}, "restore2");
  ASSERT_EQ(first.result.exit_code, 0) << first.result.err;
  ASSERT_EQ(second.result.exit_code, 0) << second.result.err;
  EXPECT_EQ(first.result.out, second.result.out);
  EXPECT_EQ(first.stats["vms"], second.stats["vms"]);  // every counter, bit for bit
  EXPECT_EQ(first.stats["snapshot"], second.stats["snapshot"]);
  EXPECT_GT(first.stats["snapshot"]["pages_restored"].get<uint64_t>(), 0u);

  // The restored console is the uninterrupted run's tail after the checkpoint.
  ASSERT_FALSE(memfill_line(whole.result.out).empty()) << whole.result.out;
  EXPECT_EQ(memfill_line(first.result.out), memfill_line(whole.result.out));
  const std::string& w = whole.result.out;
  EXPECT_EQ(w.substr(w.size() - first.result.out.size()), first.result.out);
  EXPECT_EQ(first.stats["vms"][0]["instructions"], whole.stats["vms"][0]["instructions"]);
  EXPECT_EQ(first.stats["vms"][0]["virtual_time"], whole.stats["vms"][0]["virtual_time"]);
}

TEST_F(SnapshotFile, CompressedFilesAreSmallerAndRestoreTheSame) {
  const std::string packed = temp_path("packed.snap");
  const CliResult r = run_densevm(
      with({"run"}, with(kMemfill, {"--checkpoint-at", kCheckpointAt, "--save", packed, "--compress"})));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_LT(read_bytes(packed).size(), read_bytes(*file_).size());
  const CliResult a = run_densevm({"restore", packed});
  const CliResult b = run_densevm({"restore", *file_});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
  std::remove(packed.c_str());
}

TEST_F(SnapshotFile, InspectShowsWhatTheFileHolds) {
  const CliResult r = run_densevm({"snapshot", "inspect", *file_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* needle : {"version 1", "mem 67108864", "zero elided", "section pages", "checksums OK"}) {
    EXPECT_NE(r.out.find(needle), std::string::npos) << needle << "\n" << r.out;
  }
}

TEST_F(SnapshotFile, BadFilesAreRefusedInOneLine) {
  const std::vector<uint8_t> good = read_bytes(*file_);
  ASSERT_GT(good.size(), 4096u);
  const std::string bad = temp_path("bad.snap");

  expect_refused(run_densevm({"restore", temp_path("missing.snap")}), "cannot open");

  write_bytes(bad, std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(good.size() / 2)));
  expect_refused(run_densevm({"restore", bad}), "truncated");

  std::vector<uint8_t> flipped = good;
  flipped[flipped.size() - 100] ^= 1;
  write_bytes(bad, flipped);
  expect_refused(run_densevm({"restore", bad}), "checksum mismatch in the pages section");
  expect_refused(run_densevm({"snapshot", "inspect", bad}), "checksum mismatch in the pages section");

  std::vector<uint8_t> magic = good;
  magic[0] ^= 0xff;
  write_bytes(bad, magic);
  expect_refused(run_densevm({"restore", bad}), "bad magic");

  std::vector<uint8_t> version = good;
  version[8] = 9;
  write_bytes(bad, version);
  expect_refused(run_densevm({"restore", bad}), "version 9");
  std::remove(bad.c_str());
}

TEST(SnapshotCli, CheckpointFlagsAreCheckedAndAnUnwritableSavePathFails) {
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "1000"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "x", "--save", "f"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"run", "--vms", "2", "--checkpoint-at", "1", "--save", "f"}).exit_code, 2);
  const CliResult r = run_densevm({"run", "--checkpoint-at", "1000", "--save", "/nonexistent/dir/f.snap"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/dir/f.snap"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace densevm::testing
