// read_snapshot_image on real snapshot files: a full snapshot and a diff chain on top of it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/snapshot_image.h"
#include "dedup/page_hash.h"
#include "mmu/guest_memory.h"
#include "planner/memory_image.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_elf.h"
#include "vmm/elf_loader.h"
#include "vmm/vm_image.h"

namespace densevm::planner {
namespace {

constexpr uint64_t kMem = 16 << 20;
constexpr uint64_t kData = 0x400000;

class SnapshotImages : public ::testing::Test {
 protected:
  std::string path(const char* name) const { return (dir_ / name).string(); }
  std::unique_ptr<Vm> vm() {
    // hlt: the guest never runs here; the test writes its memory.
    return std::make_unique<Vm>(frames_, parse_elf(densevm::testing::tiny_elf({0xf4})),
                                VmConfig{.id = 0, .mem_bytes = kMem, .cmdline = ""}, [](int, std::string_view) {});
  }
  static void fill(Vm& v, uint64_t page, uint8_t byte) {
    const std::vector<uint8_t> bytes(kPageSize, byte);
    ASSERT_TRUE(v.memory().write(Gpa{kData + page * kPageSize}, bytes.data(), bytes.size()));
  }
  static uint64_t hash_of(uint8_t byte) {
    const std::vector<uint8_t> bytes(kPageSize, byte);
    return byte == 0 ? zero_page_hash() : xxh3_page(bytes.data());
  }

  FrameStore frames_{uint64_t{1} << 30};
  densevm::testing::TempDir dir_{"snapimg"};
};

TEST_F(SnapshotImages, EveryRamPageGetsItsHashZeroAndUntouchedPagesTheZeroHash) {
  auto v = vm();
  fill(*v, 0, 1);
  fill(*v, 1, 2);
  fill(*v, 2, 1);
  fill(*v, 3, 0);  // written with zeros: elided
  (void)save_vm_file(*v, path("a.snap"), {});
  const MemoryImage m = read_memory_image(path("a.snap"));
  EXPECT_EQ(m.kind, ImageKind::kSnapshot);
  EXPECT_EQ(m.ranges, (std::vector<PageRun>{{0, kMem / kPageBytes}}));
  ASSERT_EQ(m.page_hashes.size(), kMem / kPageBytes);
  const uint64_t at = kData / kPageBytes;
  EXPECT_EQ(m.page_hashes[at], hash_of(1));
  EXPECT_EQ(m.page_hashes[at + 1], hash_of(2));
  EXPECT_EQ(m.page_hashes[at + 2], hash_of(1));
  EXPECT_EQ(m.page_hashes[at + 3], zero_page_hash());
  EXPECT_EQ(m.image_bytes, std::filesystem::file_size(path("a.snap")));
  const Fingerprint fp = fingerprint_image(path("a.snap"));
  EXPECT_EQ(fp.name, "a.snap");
  EXPECT_GE(fp.distinct_pages, 2u) << "the guest's kernel image and page tables are pages too";
}

TEST_F(SnapshotImages, ADiffChainReadsAsTheRestoredVmWouldSeeIt) {
  auto v = vm();
  fill(*v, 0, 1);
  fill(*v, 1, 2);
  (void)save_vm_file(*v, path("base.snap"), {});
  auto parent = std::make_shared<snapshot::SnapshotImage>(snapshot::load_snapshot_chain(path("base.snap")), frames_, false);
  auto child = restore_vm(vm_image(parent), frames_, [](int, std::string_view) {}, {});
  fill(*child, 1, 3);  // changed
  fill(*child, 0, 0);  // now zero: the diff drops the parent's page
  (void)save_vm_file(*child, path("child.snap"), {.compress = true, .parent = parent.get(), .parent_name = "base.snap"});
  const MemoryImage m = read_memory_image(path("child.snap"));
  const uint64_t at = kData / kPageBytes;
  EXPECT_EQ(m.page_hashes[at], zero_page_hash());
  EXPECT_EQ(m.page_hashes[at + 1], hash_of(3));
  EXPECT_EQ(m.image_bytes, std::filesystem::file_size(path("base.snap")) + std::filesystem::file_size(path("child.snap")));

  std::filesystem::remove(path("base.snap"));
  try {
    (void)read_memory_image(path("child.snap"));
    FAIL() << "a diff without its parent";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("base.snap"), std::string::npos) << e.what();
  }
}

TEST_F(SnapshotImages, AStoredPageThatFailsItsHashIsRefused) {
  auto v = vm();
  fill(*v, 0, 9);
  (void)save_vm_file(*v, path("a.snap"), {});
  std::fstream f(path("a.snap"), std::ios::in | std::ios::out | std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), {});
  // Our page (4096 bytes of 9) in the pages section: one byte of it flipped.
  const auto pos = all.find(std::string(kPageSize, '\x09'));
  ASSERT_NE(pos, std::string::npos);
  f.clear();
  f.seekp(static_cast<std::streamoff>(pos + 100));
  f.put('\x08');
  f.close();
  try {
    (void)read_memory_image(path("a.snap"));
    FAIL() << "a corrupt page";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("failed its checksum"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace densevm::planner
