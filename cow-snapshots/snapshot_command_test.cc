#include "cow-snapshots/snapshot_command.h"

#include <gtest/gtest.h>

namespace densevm::snapshot {
namespace {

// The checkpoint flags come out of `run`'s arguments before `run` parses them: the value of
// one of run's own flags is never taken for a checkpoint flag, whatever it says.
TEST(CheckpointOptions, AValueOfRunsOwnFlagsIsNeverTakenForACheckpointFlag) {
  std::vector<std::string> args = {"--cmdline", "--save", "--checkpoint-at", "5", "--save", "f.snap", "--stats", "--diff"};
  CheckpointOptions c;
  ASSERT_TRUE(take_checkpoint_options(args, c));
  EXPECT_EQ(c.at, 5u);
  EXPECT_EQ(c.save_path, "f.snap");
  EXPECT_FALSE(c.diff);
  EXPECT_EQ(args, (std::vector<std::string>{"--cmdline", "--save", "--stats", "--diff"}));
  const RunOptions o = parse_run_options(args);
  EXPECT_EQ(o.cmdline, "--save");
  EXPECT_EQ(o.stats_path, "--diff");
}

TEST(CheckpointOptions, MarkersAndTheirCountsParse) {
  std::vector<std::string> args = {"--checkpoint-at", "marker:3", "--save", "f"};
  CheckpointOptions c;
  ASSERT_TRUE(take_checkpoint_options(args, c));
  EXPECT_EQ(c.at_marker, 3u);
  EXPECT_FALSE(c.at);
  for (const char* bad : {"marker:", "marker:0", "marker:x", "markers"}) {
    std::vector<std::string> b = {"--checkpoint-at", bad, "--save", "f"};
    CheckpointOptions d;
    EXPECT_THROW((void)take_checkpoint_options(b, d), UsageError) << bad;
  }
}

// `run --clones K` is a checkpoint option: K from 1 to 4096, after a checkpoint, and not with
// a rollback loop; restore's own --clones is left to restore.
TEST(CheckpointOptions, ClonesNeedACheckpointAndExcludeRollbacks) {
  std::vector<std::string> args = {"--checkpoint-at", "marker", "--clones", "3", "--save", "f"};
  CheckpointOptions c;
  ASSERT_TRUE(take_checkpoint_options(args, c, /*with_clones=*/true));
  EXPECT_EQ(c.clones, 3u);
  EXPECT_TRUE(args.empty());
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--clones", "3"},
           {"--checkpoint-at", "5", "--clones", "0"},
           {"--checkpoint-at", "5", "--clones", "4097"},
           {"--checkpoint-at", "5", "--clones", "2", "--rollback-every", "10"}}) {
    std::vector<std::string> b = bad;
    CheckpointOptions d;
    EXPECT_THROW((void)take_checkpoint_options(b, d, true), UsageError) << b.size();
  }
  std::vector<std::string> restore = {"f.snap", "--clones", "3"};
  CheckpointOptions r;
  EXPECT_FALSE(take_checkpoint_options(restore, r));
  EXPECT_EQ(restore.size(), 3u);
}

// run_flag_takes_value lists exactly the flags parse_run_options reads a value for.
TEST(CheckpointOptions, RunFlagsWithValuesAreKnown) {
  for (const char* flag : {"--mem", "--vms", "--cmdline", "--mmu", "--stats", "--threads", "--slice", "--dedup",
                           "--dedup-rate", "--dedup-scope", "--groups", "--balloon-target", "--host-budget"}) {
    EXPECT_TRUE(run_flag_takes_value(flag)) << flag;
    try {
      (void)parse_run_options({flag});
      ADD_FAILURE() << flag;
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("needs a value"), std::string::npos) << flag << ": " << e.what();
    }
  }
  EXPECT_FALSE(run_flag_takes_value("--check-mmu"));
}

}  // namespace
}  // namespace densevm::snapshot
