// Snapshot files end to end: checkpoint a running guest, restore it (twice), and compare
// with the uninterrupted run; and every kind of bad snapshot input is refused in one line.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
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

// Host facts: the time and the host's minor faults of the restore.
nlohmann::json without_times(nlohmann::json j) {
  j.erase("restore_seconds");
  j.erase("restore_faults");
  return j;
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
  EXPECT_EQ(without_host_facts(first.stats["vms"]), without_host_facts(second.stats["vms"]));  // every counter, bit for bit
  EXPECT_EQ(without_times(first.stats["snapshot"]), without_times(second.stats["snapshot"]));
  EXPECT_GT(first.stats["snapshot"]["image_pages"].get<uint64_t>(), 0u);

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
  for (const char* needle : {"version 4", "mem 67108864", "saved on NUMA node", "zero elided", "section pages", "section index", "checksums OK"}) {
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

  std::vector<uint8_t> lazy_flipped = good;
  lazy_flipped[lazy_flipped.size() - 100] ^= 1;
  write_bytes(bad, lazy_flipped);
  // Lazily, the bad page is found when the guest first touches it: the VM stops there.
  const CliResult lazy = run_densevm({"restore", bad, "--lazy"});
  EXPECT_NE(lazy.exit_code, 0);
  EXPECT_NE(lazy.err.find("snapshot page failed its checksum"), std::string::npos) << lazy.err;

  std::vector<uint8_t> version = good;
  version[8] = 9;
  write_bytes(bad, version);
  expect_refused(run_densevm({"restore", bad}), "version 9");
  std::remove(bad.c_str());
}

// A snapshot file cut into its sections (FORMAT.md), to change one and put the file back
// together with every checksum valid: what restore refuses then is the contents.
struct Sections {
  std::vector<uint8_t> header;
  std::vector<std::vector<uint8_t>> payloads;  // config, state, index, pages, lineage

  explicit Sections(const std::vector<uint8_t>& file) : header(file.begin(), file.begin() + 20) {
    size_t at = 20;
    while (at < file.size()) {
      uint64_t length = 0;
      std::memcpy(&length, file.data() + at + 4, 8);
      const auto begin = file.begin() + static_cast<long>(at + 20);
      payloads.emplace_back(begin, begin + static_cast<long>(length));
      at += 20 + length;
    }
  }
  [[nodiscard]] std::vector<uint8_t> file() const {
    std::vector<uint8_t> out = header;
    for (size_t k = 0; k < payloads.size(); ++k) {
      const uint32_t id = static_cast<uint32_t>(k + 1);
      const uint64_t length = payloads[k].size();
      const uint64_t sum = XXH3_64bits(payloads[k].data(), payloads[k].size());
      const auto* p = reinterpret_cast<const uint8_t*>(&id);
      out.insert(out.end(), p, p + 4);
      p = reinterpret_cast<const uint8_t*>(&length);
      out.insert(out.end(), p, p + 8);
      p = reinterpret_cast<const uint8_t*>(&sum);
      out.insert(out.end(), p, p + 8);
      out.insert(out.end(), payloads[k].begin(), payloads[k].end());
    }
    return out;
  }
  std::vector<uint8_t>& config() { return payloads[0]; }
  std::vector<uint8_t>& state() { return payloads[1]; }
  std::vector<uint8_t>& index() { return payloads[2]; }
  std::vector<uint8_t>& pages() { return payloads[3]; }
  // The index: five u64 counts, then (u64 gpa, u32 stored) entries, then a u64 hash per page.
  [[nodiscard]] uint64_t count(int k) { return u64_at(index(), 8 * static_cast<size_t>(k)); }
  void set_count(int k, uint64_t v) { std::memcpy(index().data() + 8 * k, &v, 8); }
  void set_entry_gpa(uint64_t i, uint64_t gpa) { std::memcpy(index().data() + 40 + 12 * i, &gpa, 8); }
  [[nodiscard]] size_t first_hash() { return 40 + 12 * count(0); }
  static uint64_t u64_at(const std::vector<uint8_t>& b, size_t at) {
    uint64_t v = 0;
    std::memcpy(&v, b.data() + at, 8);
    return v;
  }
};

// What restore refuses, inspect refuses, with the same line: for each part of a file that
// can be wrong under valid checksums, a crafted file refused by inspect and by eager and
// (where the check is up front) lazy restores, before anything runs.
TEST_F(SnapshotFile, InspectRefusesWhatRestoreRefuses) {
  const std::string packed = temp_path("inspect-packed.snap");
  ASSERT_EQ(run_densevm(with({"run"}, with(kMemfill, {"--checkpoint-at", kCheckpointAt, "--save", packed,
                                                      "--compress"})))
                .exit_code,
            0);
  const Sections good(read_bytes(*file_));
  const Sections good_packed(read_bytes(packed));
  ASSERT_EQ(good.payloads.size(), 5u);
  ASSERT_EQ(good_packed.payloads.size(), 5u);
  const uint64_t entries = Sections(good).count(0);
  ASSERT_GT(entries, 2u);
  const std::string bad = temp_path("inspect-bad.snap");

  struct Case {
    std::string what;
    Sections file;
    std::string needle;
    bool lazy_up_front;  // a lazy restore refuses it before the first instruction too
  };
  std::vector<Case> cases;
  auto add = [&](std::string what, const Sections& base, auto change, std::string needle, bool lazy) {
    Sections s = base;
    change(s);
    cases.push_back({std::move(what), std::move(s), std::move(needle), lazy});
  };
  const uint64_t last = entries - 1;
  for (const uint64_t gpa : {uint64_t{0xd0000000}, uint64_t{0xfee00000}, uint64_t{1} << 40}) {
    add("entry beyond RAM", good, [&](Sections& s) { s.set_entry_gpa(last, gpa); }, "page outside guest RAM", true);
  }
  // 8 GiB of RAM: 0xd0000000 is in the MMIO window between the two RAM ranges.
  add("entry in the MMIO window", good,
      [&](Sections& s) {
        const uint64_t mem = uint64_t{8} << 30;
        std::memcpy(s.config().data(), &mem, 8);
        s.set_entry_gpa(last, 0xd0000000);
      },
      "page outside guest RAM (entry " + std::to_string(last) + ", gpa 0xd0000000)", true);
  add("page hash", good, [&](Sections& s) { s.index()[s.first_hash() + 3] ^= 0x10; }, "does not match its hash",
      false);
  add("page byte", good, [&](Sections& s) { s.pages()[4096 * 2 + 100] ^= 1; },
      "stored page 2) does not match its hash", false);
  add("state truncated", good, [&](Sections& s) { s.state().pop_back(); }, "snapshot state is corrupt: state record ends early",
      true);
  add("state with trailing bytes", good, [&](Sections& s) { s.state().push_back(0); },
      "snapshot state is corrupt: state record has trailing bytes", true);
  add("zstd frame truncated", good_packed, [&](Sections& s) { s.pages().resize(s.pages().size() - 16); },
      "pages section does not decompress", true);
  add("zstd frame changed", good_packed, [&](Sections& s) { s.pages()[s.pages().size() / 2] ^= 0x5a; },
      "snapshot page", false);
  add("zero pages over RAM", good,
      [&](Sections& s) { s.set_count(2, (uint64_t{64} << 20) / 4096 - s.count(0) + 1); },
      "elided zero pages, more than the 16384 pages of guest RAM", true);

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    write_bytes(bad, c.file.file());
    expect_refused(run_densevm({"snapshot", "inspect", bad}), c.needle);
    expect_refused(run_densevm({"restore", bad, "--eager"}), c.needle);
    if (c.lazy_up_front) expect_refused(run_densevm({"restore", bad, "--lazy"}), c.needle);
  }
  // Untouched, both files pass.
  for (const std::string& f : {*file_, packed}) {
    const CliResult r = run_densevm({"snapshot", "inspect", f});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("stored pages match their hashes, state OK"), std::string::npos) << r.out;
  }
  std::remove(bad.c_str());
  std::remove(packed.c_str());
}

TEST_F(SnapshotFile, LazyRestoresRunExactlyAsEagerOnesAndTouchOnlyWhatTheGuestUses) {
  const Outcome eager = run_with_stats({"restore", *file_, "--eager"}, "eager");
  const Outcome lazy = run_with_stats({"restore", *file_, "--lazy"}, "lazy");
  ASSERT_EQ(lazy.result.exit_code, 0) << lazy.result.err;
  EXPECT_EQ(lazy.result.out, eager.result.out);
  EXPECT_EQ(lazy.stats["vms"][0]["instructions"], eager.stats["vms"][0]["instructions"]);
  EXPECT_EQ(lazy.stats["snapshot"]["mode"], "lazy");
  // memfill frees nothing and rewrites every page: the lazy run still fetched each page once
  // at most, and never more than the image holds.
  EXPECT_LE(lazy.stats["snapshot"]["pages_fetched"].get<uint64_t>(),
            lazy.stats["snapshot"]["image_pages"].get<uint64_t>());
  EXPECT_EQ(eager.stats["snapshot"]["pages_fetched"], eager.stats["snapshot"]["image_pages"]);
}

// A diff from a restored VM is small, restores to the same end as the uninterrupted run, and
// names its parent: a missing or different parent is refused in one line.
// Several files restored as one fleet: each VM goes on as its own file's restore does, under
// the [vmK] of its place on the command line; a bad file among them stops everything first.
TEST_F(SnapshotFile, SeveralFilesRestoreAsOneFleetInTheOrderGiven) {
  const std::string other = temp_path("memfill-seed7.snap");
  ASSERT_EQ(run_densevm({"run", "--mem", "32M", "--cmdline", "workload=memfill size=4M seed=7 hold=5", "--checkpoint-at",
                         kCheckpointAt, "--save", other}).exit_code, 0);
  const std::string mine = memfill_line(run_densevm({"restore", *file_}).out);
  const std::string its = memfill_line(run_densevm({"restore", other}).out);
  ASSERT_NE(mine, "");
  ASSERT_NE(its, mine) << "two different guests";

  const Outcome fleet = run_with_stats({"restore", other, *file_}, "fleet");
  ASSERT_EQ(fleet.result.exit_code, 0) << fleet.result.err;
  EXPECT_NE(fleet.result.out.find("[vm0] " + its), std::string::npos) << fleet.result.out;
  EXPECT_NE(fleet.result.out.find("[vm1] " + mine), std::string::npos) << fleet.result.out;
  const nlohmann::json& snap = fleet.stats["snapshot"];
  ASSERT_EQ(snap["files"].size(), 2u);
  EXPECT_EQ(snap["files"][0]["restored_from"], other);
  EXPECT_EQ(snap["files"][1]["restored_from"], *file_);
  EXPECT_EQ(snap["image_pages"].get<uint64_t>(),
            snap["files"][0]["image_pages"].get<uint64_t>() + snap["files"][1]["image_pages"].get<uint64_t>());
  EXPECT_EQ(fleet.stats["vms"].size(), 2u);

  expect_refused(run_densevm({"restore", *file_, temp_path("missing.snap")}), "missing.snap");
  expect_refused(run_densevm({"restore", *file_, other, "--clones", "2"}), "--clones clones one file");
  std::remove(other.c_str());
}

TEST_F(SnapshotFile, DiffSnapshotsChainToTheirParent) {
  const std::string child = temp_path("child.snap");
  const Outcome saved = run_with_stats(
      {"restore", *file_, "--checkpoint-at", "4000000", "--save", child, "--diff"}, "diffsave");
  ASSERT_EQ(saved.result.exit_code, 0) << saved.result.err;
  const nlohmann::json& c = saved.stats["snapshot"]["checkpoint"];
  EXPECT_EQ(c["diff"], true);
  EXPECT_GT(c["pages_unchanged"].get<uint64_t>(), 0u);
  EXPECT_LT(read_bytes(child).size(), read_bytes(*file_).size());

  const Outcome whole = run_with_stats(with({"run"}, kMemfill), "whole-diff");
  for (const char* mode : {"--eager", "--lazy"}) {
    const Outcome restored = run_with_stats({"restore", child, mode}, "diffrestore");
    ASSERT_EQ(restored.result.exit_code, 0) << restored.result.err;
    EXPECT_EQ(restored.stats["snapshot"]["chain_depth"], 2);
    EXPECT_EQ(memfill_line(restored.result.out), memfill_line(whole.result.out));
    EXPECT_EQ(restored.stats["vms"][0]["instructions"], whole.stats["vms"][0]["instructions"]);
  }
  const CliResult inspect = run_densevm({"snapshot", "inspect", child});
  EXPECT_NE(inspect.out.find("diff of"), std::string::npos) << inspect.out;

  // The parent moved: found again with --parent; gone: refused.
  const std::string moved = temp_path("moved-parent.snap");
  write_bytes(moved, read_bytes(*file_));
  EXPECT_EQ(run_densevm({"restore", child, "--parent", moved}).exit_code, 0);
  expect_refused(run_densevm({"restore", child, "--parent", temp_path("gone.snap")}), "needs its parent");
  // A different snapshot under the parent's name: refused by id and checksum.
  const std::string other = temp_path("other.snap");
  ASSERT_EQ(run_densevm(with({"run"}, with(kMemfill, {"--checkpoint-at", kCheckpointAt, "--save", other}))).exit_code, 0);
  expect_refused(run_densevm({"restore", child, "--parent", other}), "is not the snapshot");
  for (const std::string& f : {child, moved, other}) std::remove(f.c_str());
}

// Clones of one snapshot: each continues the same run but sees a generation id of its own
// (and so draws differently); repeating the restore repeats everything.
// A file of format version 2, written by densevm as it was before version 3 (commit dc14f8f):
//   densevm run --mem 16M --cmdline "workload=memfill size=16K mark=1 hold=20"
//               --checkpoint-at marker --save memfill-v2.snap --compress
// That build's own restore of it printed "memfill ok 742f2ba29a00ec41" and ended after
// 114462 instructions at virtual time 200061453; so does this one's, and a diff saved against
// it (version 4, its parent version 2) restores to the same end.
TEST(SnapshotVersions, AVersion2FileFromBeforeVersion3StillRestores) {
  const std::string v2 = std::string(DENSEVM_SOURCE_DIR) + "/tests/e2e/data/memfill-v2.snap";
  const CliResult inspect = run_densevm({"snapshot", "inspect", v2});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("version 2"), std::string::npos) << inspect.out;

  for (const char* mode : {"--eager", "--lazy"}) {
    const Outcome r = run_with_stats({"restore", v2, mode}, "v2");
    EXPECT_EQ(r.result.exit_code, 0) << mode << ": " << r.result.err;
    EXPECT_EQ(r.result.out, "memfill ok 742f2ba29a00ec41\n") << mode;
    ASSERT_TRUE(r.stats.is_object()) << mode;
    EXPECT_EQ(r.stats["vms"][0]["instructions"], 114462) << mode;
    EXPECT_EQ(r.stats["vms"][0]["virtual_time"], 200061453) << mode;
  }

  const std::string child = temp_path("v4-child.snap");
  const CliResult saved = run_densevm({"restore", v2, "--checkpoint-at", "114000", "--save", child, "--diff"});
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_NE(run_densevm({"snapshot", "inspect", child}).out.find("version 4"), std::string::npos);
  const Outcome restored = run_with_stats({"restore", child, "--parent", v2}, "v4-child");
  std::remove(child.c_str());
  EXPECT_EQ(restored.result.exit_code, 0) << restored.result.err;
  EXPECT_EQ(restored.result.out, "memfill ok 742f2ba29a00ec41\n");
  ASSERT_TRUE(restored.stats.is_object());
  EXPECT_EQ(restored.stats["snapshot"]["chain_depth"], 2);
  EXPECT_EQ(restored.stats["vms"][0]["instructions"], 114462);
}

TEST(SnapshotClones, EachCloneGetsItsOwnGenerationIdAndSharesMemory) {
  const std::string file = temp_path("genid.snap");
  const std::vector<std::string> genid = {"--mem", "64M", "--cmdline", "workload=genid ticks=30"};
  CliResult original;
  const nlohmann::json saved = run_stats(with({"run"}, with(genid, {"--checkpoint-at", "100000", "--save", file})), &original);
  ASSERT_EQ(original.exit_code, 0) << original.err;
  ASSERT_NE(original.out.find("genid ok changes=1"), std::string::npos) << original.out;

  CliResult a, b;
  const nlohmann::json sa = run_stats({"restore", file, "--clones", "3", "--lazy", "--threads", "2"}, &a);
  const nlohmann::json sb = run_stats({"restore", file, "--clones", "3", "--lazy", "--threads", "1"}, &b);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  std::vector<std::string> ids;
  for (int k = 0; k < 3; ++k) {
    const std::string tag = "[vm" + std::to_string(k) + "] genid ";
    const size_t at = a.out.find(tag);
    ASSERT_NE(at, std::string::npos) << a.out;
    ids.push_back(a.out.substr(at + tag.size(), 32));
    EXPECT_NE(a.out.find("[vm" + std::to_string(k) + "] genid ok changes=2"), std::string::npos) << a.out;  // boot id, then its own
    EXPECT_EQ(original.out.find(ids.back()), std::string::npos);  // not the original's id
  }
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
  // Deterministic: the same lines per VM whatever the threads (interleaving aside).
  auto sorted_lines = [](const std::string& out) {
    std::vector<std::string> lines;
    size_t p = 0;
    while (p < out.size()) {
      const size_t e = out.find('\n', p);
      lines.push_back(out.substr(p, e - p));
      p = e == std::string::npos ? out.size() : e + 1;
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(sorted_lines(a.out), sorted_lines(b.out));
  EXPECT_EQ(without_host_facts(sa["vms"]), without_host_facts(sb["vms"]));
  // The clones share the image's frames: one per stored page the clones touched.
  EXPECT_LE(sa["snapshot"]["frames_loaded"].get<uint64_t>(), sa["snapshot"]["pages_stored"].get<uint64_t>());
  EXPECT_GT(sa["snapshot"]["pages_fetched"].get<uint64_t>(), sa["snapshot"]["frames_loaded"].get<uint64_t>());
  std::remove(file.c_str());
}

// A checkpoint the guest asks for: memfill mark=1 writes a marker once it has filled its
// memory, and the snapshot is taken right after it.
TEST(SnapshotMarker, TheCheckpointIsTakenRightAfterTheGuestsMarker) {
  const std::string file = temp_path("marker.snap");
  const std::vector<std::string> marked = {"--mem", "64M", "--cmdline", "workload=memfill size=8M mark=1 hold=5"};
  CliResult whole, saved, restored;
  const nlohmann::json w = run_stats(with({"run"}, marked), &whole);
  const nlohmann::json s = run_stats(with({"run"}, with(marked, {"--checkpoint-at", "marker", "--save", file})), &saved);
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  EXPECT_EQ(saved.out, whole.out);
  // After the fill (all 2048 pages are in the file), before the verification.
  EXPECT_GT(s["snapshot"]["pages_mapped"].get<uint64_t>(), 2048u);
  const uint64_t at = s["snapshot"]["checkpoint_at"].get<uint64_t>();
  EXPECT_LT(at, w["vms"][0]["instructions"].get<uint64_t>());
  const nlohmann::json r = run_stats({"restore", file}, &restored);
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(memfill_line(restored.out), memfill_line(whole.out));
  EXPECT_EQ(r["vms"][0]["instructions"], w["vms"][0]["instructions"]);
  // Markers count from boot: the restored VM has passed marker 1 already.
  const CliResult again = run_densevm({"restore", file, "--checkpoint-at", "marker", "--save", file + "3"});
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("reached before the snapshot"), std::string::npos) << again.err;
  // There is only one marker: waiting for a second one saves nothing.
  const CliResult none = run_densevm(with({"run"}, with(marked, {"--checkpoint-at", "marker:2", "--save", file + "2"})));
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("ended before --checkpoint-at marker 2"), std::string::npos) << none.err;
  std::remove(file.c_str());
}

TEST(SnapshotCli, CheckpointFlagsAreCheckedAndAnUnwritableSavePathFails) {
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "marker:0", "--save", "f"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "1000", "--save", "f", "--diff"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"restore", "f", "--lazy", "--eager"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"restore", "f", "--clones", "0"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"restore", "f", "--clones", "2", "--checkpoint-at", "5", "--save", "g"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "1000"}).exit_code, 2);
  EXPECT_EQ(run_densevm({"run", "--checkpoint-at", "x", "--save", "f"}).exit_code, 2);
  const CliResult r = run_densevm({"run", "--checkpoint-at", "1000", "--save", "/nonexistent/dir/f.snap"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("/nonexistent/dir/f.snap"), std::string::npos) << r.err;
}

// Issue 15: --save and --stats never replace a device node, FIFO or symlink. A copy of
// /dev/full made with mknod is written in place: the disk-full error is one line, the exit
// status non-zero, and the node is still the same device.
TEST(SnapshotCli, SaveAndStatsWriteDevicesInPlace) {
  struct stat full;
  ASSERT_EQ(::stat("/dev/full", &full), 0);
  const std::string dir = temp_path("devices");
  std::filesystem::create_directories(dir);
  const std::string copy = dir + "/full";
  if (::mknod(copy.c_str(), S_IFCHR | 0600, full.st_rdev) != 0) {
    GTEST_SKIP() << "mknod needs CAP_MKNOD";
  }
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"run", "--checkpoint-at", "10000", "--save", copy},
        std::vector<std::string>{"run", "--stats", copy}, std::vector<std::string>{"run", "--stats", "/dev/full"}}) {
    SCOPED_TRACE(args.back());
    const CliResult r = run_densevm(args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  struct stat after;
  ASSERT_EQ(::stat(copy.c_str(), &after), 0);
  EXPECT_TRUE(S_ISCHR(after.st_mode));
  EXPECT_EQ(after.st_rdev, full.st_rdev);

  const std::string link = dir + "/null";
  std::filesystem::create_symlink("/dev/null", link);
  EXPECT_EQ(run_densevm({"run", "--stats", link}).exit_code, 0);
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace densevm::testing
