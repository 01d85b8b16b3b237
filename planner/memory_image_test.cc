#include "planner/memory_image.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "dedup/page_hash.h"
#include "planner/internal/test_elf_core.h"
#include "planner/qemu_dump.h"
#include "tests/support/temp_dir.h"

namespace densevm::planner {
namespace {

using testing::elf_core;
using testing::Load;

std::vector<uint8_t> page_of(uint8_t fill) { return std::vector<uint8_t>(kPageBytes, fill); }

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class MemoryImages : public ::testing::Test {
 protected:
  std::string write(const char* name, const std::vector<uint8_t>& bytes) const {
    return dir_.write(name, std::span<const uint8_t>(bytes));
  }
  static std::string error_of(const std::string& spec) {
    try {
      (void)read_memory_image(spec);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(accepted)";
  }

  densevm::testing::TempDir dir_{"img"};
};

TEST_F(MemoryImages, ARawFileIsHashedPageByPageFromAddressZero) {
  const std::string p = write("ram.bin", concat({page_of(1), page_of(0), page_of(1), page_of(7)}));
  uint64_t last = 0;
  const MemoryImage m = read_memory_image("raw:" + p, [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, 4 * kPageBytes);
    last = done;
  });
  EXPECT_EQ(last, 4 * kPageBytes);
  EXPECT_EQ(m.kind, ImageKind::kRaw);
  EXPECT_EQ(m.ranges, (std::vector<PageRun>{{0, 4}}));
  const std::vector<uint8_t> one = page_of(1), seven = page_of(7);
  EXPECT_EQ(m.page_hashes, (std::vector<uint64_t>{xxh3_page(one.data()), zero_page_hash(), xxh3_page(one.data()),
                                                  xxh3_page(seven.data())}));
  const Fingerprint fp = fingerprint_image("raw:" + p);
  EXPECT_EQ(fp.name, "ram.bin");
  EXPECT_EQ(fp.zero_pages, 1u);
  EXPECT_EQ(fp.distinct_pages, 2u);
}

TEST_F(MemoryImages, RawFilesMustBeNamedAndWholePages) {
  const std::string p = write("ram.bin", page_of(3));
  EXPECT_NE(error_of(p).find("raw:"), std::string::npos) << "no magic: the user names it raw";
  const std::string odd = write("odd.bin", std::vector<uint8_t>(kPageBytes + 5, 1));
  EXPECT_NE(error_of("raw:" + odd).find("whole number of 4 KiB pages"), std::string::npos);
  EXPECT_NE(error_of("raw:" + write("empty.bin", {})).find("empty"), std::string::npos);
  EXPECT_NE(error_of((dir_ / "missing").string()).find("cannot open"), std::string::npos);
}

TEST_F(MemoryImages, AQemuDumpIsReadByPhysicalAddressWithItsZeroTail) {
  // Two RAM blocks as microvm has them, the second beyond a hole; its last page is past
  // p_filesz and reads as zero.
  const std::vector<Load> loads = {{0, concat({page_of(1), page_of(2)}), 2 * kPageBytes},
                                   {0x100000, concat({page_of(2), page_of(0)}), 3 * kPageBytes}};
  const std::string p = write("vm.core", elf_core(loads, {"CORE", "QEMU", "VMCOREINFO"}));
  const MemoryImage m = read_memory_image(p);
  EXPECT_EQ(m.kind, ImageKind::kQemuDump);
  EXPECT_EQ(m.ranges, (std::vector<PageRun>{{0, 2}, {0x100000, 3}}));
  const std::vector<uint8_t> one = page_of(1), two = page_of(2);
  EXPECT_EQ(m.page_hashes, (std::vector<uint64_t>{xxh3_page(one.data()), xxh3_page(two.data()), xxh3_page(two.data()),
                                                  zero_page_hash(), zero_page_hash()}));
  const QemuDumpLayout layout = parse_qemu_dump(std::vector<uint8_t>(elf_core(loads, {"CORE", "QEMU"})));
  EXPECT_EQ(layout.cpus, 1u);
  EXPECT_FALSE(layout.vmcoreinfo);
}

TEST_F(MemoryImages, AZeroTailLargerThanTheBytesHeldIsRefusedBeforeAnyTableIsBuilt) {
  // A page of bytes and 1 TiB past it: a 4 KiB file would have the reader build 2 GiB of hashes.
  const std::vector<Load> huge = {{0, page_of(1), uint64_t{1} << 40}};
  EXPECT_NE(error_of(write("huge.core", elf_core(huge, {"QEMU"})))
                .find("describes 268435455 pages past its segments' bytes, more than the 1 it holds"),
            std::string::npos);
  // As many pages past the bytes as held is a dump still.
  const std::vector<Load> even = {{0, concat({page_of(1), page_of(2)}), 4 * kPageBytes}};
  const MemoryImage m = read_memory_image(write("even.core", elf_core(even, {"QEMU"})));
  EXPECT_EQ(m.page_hashes.size(), 4u);
  const std::vector<Load> one_more = {{0, concat({page_of(1), page_of(2)}), 5 * kPageBytes}};
  EXPECT_NE(error_of(write("more.core", elf_core(one_more, {"QEMU"}))).find("3 pages past"), std::string::npos);
}

TEST_F(MemoryImages, OverlappingSegmentsOfAPagingDumpCountAPageOnce) {
  const std::vector<Load> loads = {{0x2000, concat({page_of(5), page_of(6)}), 2 * kPageBytes},
                                   {0x0000, concat({page_of(1), page_of(2), page_of(9)}), 3 * kPageBytes}};
  const QemuDumpLayout layout = parse_qemu_dump(elf_core(loads, {"QEMU"}));
  ASSERT_EQ(layout.segments.size(), 2u);
  EXPECT_EQ(layout.segments[0].paddr, 0u);
  EXPECT_EQ(layout.segments[0].memsz, 3 * kPageBytes);
  EXPECT_EQ(layout.segments[1].paddr, 0x3000u) << "0x2000 came from the first segment";
  EXPECT_EQ(layout.segments[1].memsz, kPageBytes);
}

TEST_F(MemoryImages, ManySegmentsUsePnXnumAndTheSectionHeadersCount) {
  const std::vector<Load> loads = {{0, page_of(1), kPageBytes}, {0x1000, page_of(2), kPageBytes}};
  const QemuDumpLayout layout = parse_qemu_dump(elf_core(loads, {"QEMU"}, ET_CORE, /*pn_xnum=*/true));
  EXPECT_EQ(layout.segments.size(), 2u);
}

TEST_F(MemoryImages, AnElfCoreThatIsNotAQemuDumpIsRefused) {
  const std::vector<Load> loads = {{0, page_of(1), kPageBytes}};
  EXPECT_NE(error_of(write("process.core", elf_core(loads, {"CORE"}))).find("not a QEMU guest memory dump"),
            std::string::npos);
  EXPECT_NE(error_of(write("exe.elf", elf_core(loads, {"QEMU"}, ET_EXEC))).find("not a core dump"), std::string::npos);
  EXPECT_NE(error_of(write("odd.core", elf_core({{0x800, page_of(1), kPageBytes}}, {"QEMU"}))).find("page aligned"),
            std::string::npos);
}

TEST_F(MemoryImages, ATruncatedQemuDumpIsRefusedWhereverItEnds) {
  const std::vector<uint8_t> good = elf_core({{0, concat({page_of(1), page_of(2)}), 2 * kPageBytes}}, {"CORE", "QEMU"});
  for (size_t cut = 4; cut < good.size(); cut += 97) {
    const std::string p = write("cut.core", std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    EXPECT_NE(error_of(p).find("QEMU dump"), std::string::npos) << cut << ": " << error_of(p);
  }
}

}  // namespace
}  // namespace densevm::planner
