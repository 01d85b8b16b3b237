#include "cow-snapshots/snapshot_io.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "cow-snapshots/snapshot_format.h"

namespace densevm::snapshot {
namespace {

namespace fs = std::filesystem;

class SnapshotIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("densevm-snapshot-io-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  [[nodiscard]] size_t entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  fs::path dir_;
};

TEST_F(SnapshotIo, ReplacesTheFileWholeAndLeavesNoTempFile) {
  const std::string path = (dir_ / "vm.snap").string();
  write_file_atomically(path, std::vector<uint8_t>(10000, 1));
  write_file_atomically(path, std::vector<uint8_t>{1, 2, 3});
  const MappedFile back(path);
  EXPECT_EQ(std::vector<uint8_t>(back.bytes().begin(), back.bytes().end()), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(entries(), 1u);
}

TEST_F(SnapshotIo, AFailedWriteLeavesNothingBehind) {
  const std::string path = (dir_ / "missing-dir" / "vm.snap").string();
  EXPECT_THROW(write_file_atomically(path, std::vector<uint8_t>{1}), std::runtime_error);
  EXPECT_EQ(entries(), 0u);
}

TEST_F(SnapshotIo, MissingFilesAndDirectoriesAreSnapshotErrors) {
  EXPECT_THROW(MappedFile((dir_ / "nope").string()), SnapshotError);
  EXPECT_THROW(MappedFile(dir_.string()), SnapshotError);
}

}  // namespace
}  // namespace densevm::snapshot
