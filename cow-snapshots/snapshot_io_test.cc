#include "cow-snapshots/snapshot_io.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "cow-snapshots/snapshot_format.h"
#include "tests/support/temp_dir.h"

namespace densevm::snapshot {
namespace {

namespace fs = std::filesystem;

class SnapshotIo : public ::testing::Test {
 protected:
  [[nodiscard]] size_t entries() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  densevm::testing::TempDir dir_{"snapshot-io"};
};

TEST_F(SnapshotIo, ReplacesTheFileWholeAndLeavesNoTempFile) {
  const std::string path = (dir_ / "vm.snap").string();
  for (const std::vector<uint8_t>& bytes : {std::vector<uint8_t>(10000, 1), std::vector<uint8_t>{1, 2, 3}}) {
    AtomicFile file(path);
    file.write(bytes);
    file.commit();
  }
  const MappedFile back(path);
  EXPECT_EQ(std::vector<uint8_t>(back.bytes().begin(), back.bytes().end()), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(entries(), 1u);
}

TEST_F(SnapshotIo, AFailedWriteLeavesNothingBehind) {
  const std::string path = (dir_ / "missing-dir" / "vm.snap").string();
  EXPECT_THROW(AtomicFile{path}, std::runtime_error);
  EXPECT_EQ(entries(), 0u);
}

// A container streamed into a file a piece at a time (more than the 1 MiB write buffer, the
// section's length and checksum patched at its end) is the container built whole in memory.
TEST_F(SnapshotIo, AStreamedContainerIsByteForByteTheOneBuiltInMemory) {
  std::vector<uint8_t> big(3 * (size_t{1} << 20) + 12345);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + i / 4096);
  const std::vector<Section> sections = {{SectionId::kConfig, {1, 2, 3}}, {SectionId::kState, {4}},
                                         {SectionId::kIndex, {5, 6}}, {SectionId::kPages, big},
                                         {SectionId::kLineage, {}}};
  const std::vector<uint8_t> whole = encode_container(kFlagCompressed, sections);
  const std::string path = (dir_ / "streamed.snap").string();
  {
    AtomicFile file(path);
    FileSink sink(file);
    ContainerWriter w(sink, kFlagCompressed, 5);
    for (size_t i = 0; i < 3; ++i) w.section(sections[i].id, sections[i].payload);
    w.begin(SectionId::kPages);
    for (size_t at = 0; at < big.size(); at += 100'000) {
      w.append(std::span<const uint8_t>(big).subspan(at, std::min<size_t>(100'000, big.size() - at)));
    }
    w.end();
    w.section(SectionId::kLineage, {});
    EXPECT_FALSE(fs::exists(path)) << "nothing under the name before commit";
    file.commit();
  }
  const MappedFile back(path);
  ASSERT_EQ(back.bytes().size(), whole.size());
  EXPECT_TRUE(std::equal(whole.begin(), whole.end(), back.bytes().begin()));
  EXPECT_EQ(decode_container(back.bytes()).section(SectionId::kPages).size(), big.size());
  EXPECT_EQ(entries(), 1u);
}

TEST_F(SnapshotIo, AnAbandonedFileLeavesNothingBehind) {
  {
    AtomicFile file((dir_ / "vm.snap").string());
    file.write(std::vector<uint8_t>(size_t{2} << 20, 9));  // flushed to the temp file
    EXPECT_EQ(entries(), 1u);
  }
  EXPECT_EQ(entries(), 0u);
}

TEST_F(SnapshotIo, MissingFilesAndDirectoriesAreSnapshotErrors) {
  EXPECT_THROW(MappedFile((dir_ / "nope").string()), SnapshotError);
  EXPECT_THROW(MappedFile(dir_.string()), SnapshotError);
}

}  // namespace
}  // namespace densevm::snapshot
