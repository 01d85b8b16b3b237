#include "cow-snapshots/chain_pages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "cow-snapshots/snapshot_format.h"
#include "cow-snapshots/snapshot_image.h"
#include "mmu/guest_memory.h"
#include "tests/support/tiny_elf.h"
#include "vmm/elf_loader.h"
#include "vmm/vm_image.h"

namespace densevm::snapshot {
namespace {

constexpr uint64_t kData = 0x400000;

class ChainPagesTest : public ::testing::Test {
 protected:
  std::unique_ptr<Vm> vm(uint64_t mem) {
    return std::make_unique<Vm>(frames_, parse_elf(densevm::testing::tiny_elf({0xf4})),
                                VmConfig{.id = 0, .mem_bytes = mem, .cmdline = ""}, [](int, std::string_view) {});
  }
  static void fill(Vm& v, uint64_t gpa, uint8_t byte) {
    const std::vector<uint8_t> page(kPageSize, byte);
    ASSERT_TRUE(v.memory().write(Gpa{gpa}, page.data(), page.size()));
  }
  FrameStore frames_{uint64_t{1} << 33};
};

TEST_F(ChainPagesTest, ADiffsEntriesOverrideItsParentsAndItsDropsZeroThem) {
  auto base_vm = vm(16 << 20);
  fill(*base_vm, kData, 1);
  fill(*base_vm, kData + kPageSize, 2);
  fill(*base_vm, kData + 2 * kPageSize, 3);
  SaveStats s;
  const std::vector<uint8_t> base_file = encode_vm(*base_vm, {}, s);
  const Snapshot base = parse_snapshot(base_file, nullptr);
  auto parent = std::make_shared<SnapshotImage>(std::vector<Snapshot>{base}, frames_, false);
  auto child = restore_vm(vm_image(parent), frames_, [](int, std::string_view) {}, {});
  fill(*child, kData + kPageSize, 9);  // changed
  fill(*child, kData + 2 * kPageSize, 0);  // now zero: dropped
  const std::vector<uint8_t> diff_file = encode_vm(*child, {.compress = false, .parent = parent.get(), .parent_name = "b"}, s);
  const ChainPages chain({base, parse_snapshot(diff_file, nullptr)});

  EXPECT_EQ(chain.ram_pages(), (16u << 20) / kPageSize);
  EXPECT_EQ(chain.stored_pages(), base.stored_pages() + parse_snapshot(diff_file, nullptr).stored_pages());
  auto byte_at = [&](uint64_t gpa) -> int {
    const uint32_t slot = chain.slot(chain.index_of(Gpa{gpa}));
    return slot == ChainPages::kNone ? -1 : chain.data(slot)[0];
  };
  EXPECT_EQ(byte_at(kData), 1) << "the parent's";
  EXPECT_EQ(byte_at(kData + kPageSize), 9) << "the diff's";
  EXPECT_EQ(byte_at(kData + 2 * kPageSize), -1) << "dropped";
  EXPECT_EQ(byte_at(kData + 3 * kPageSize), -1) << "never touched";
  EXPECT_EQ(chain.gpa_of(chain.index_of(Gpa{kData})), Gpa{kData});
  EXPECT_EQ(chain.slot(chain.ram_pages()), ChainPages::kNone) << "past the end";
}

TEST_F(ChainPagesTest, RamAboveTheMmioWindowKeepsItsAddresses) {
  auto v = vm(uint64_t{4} << 30);
  const uint64_t high = GuestMemory::kHighRamBase + 5 * kPageSize;
  fill(*v, high, 7);
  SaveStats s;
  const std::vector<uint8_t> file = encode_vm(*v, {}, s);
  const ChainPages chain({parse_snapshot(file, nullptr)});
  const uint64_t index = chain.index_of(Gpa{high});
  EXPECT_EQ(index, (GuestMemory::kLowRamLimit + 5 * kPageSize) / kPageSize);
  EXPECT_EQ(chain.gpa_of(index), Gpa{high});
  ASSERT_NE(chain.slot(index), ChainPages::kNone);
  EXPECT_EQ(chain.data(chain.slot(index))[100], 7);
  EXPECT_EQ(chain.index_of(Gpa{GuestMemory::kLowRamLimit}), chain.ram_pages()) << "MMIO is not RAM";
}

// A single file is read in its index in place, a chain through a table: the same file under
// a diff answers as the file alone for every RAM page the diff does not name (it names the
// page of the restored VM's generation id, written on restore).
TEST_F(ChainPagesTest, ASingleFileLookedUpInPlaceAnswersAsTheChainsTable) {
  auto base_vm = vm(16 << 20);
  for (uint64_t p = 0; p < 40; p += 3) fill(*base_vm, kData + p * kPageSize, static_cast<uint8_t>(p % 5 + 1));
  SaveStats base_stats, diff_stats;
  const std::vector<uint8_t> base_file = encode_vm(*base_vm, {}, base_stats);
  const Snapshot base = parse_snapshot(base_file, nullptr);
  auto parent = std::make_shared<SnapshotImage>(std::vector<Snapshot>{base}, frames_, false);
  auto child = restore_vm(vm_image(parent), frames_, [](int, std::string_view) {}, {});
  const std::vector<uint8_t> diff_file =
      encode_vm(*child, {.compress = false, .parent = parent.get(), .parent_name = "b"}, diff_stats);
  const Snapshot diff = parse_snapshot(diff_file, nullptr);
  ASSERT_LE(diff.page_count, 2u) << "the generation id's page, little else";

  const ChainPages single({base});
  const ChainPages table({base, diff});
  ASSERT_EQ(single.ram_pages(), table.ram_pages());
  EXPECT_EQ(single.stored_pages(), base.stored_pages());
  std::set<uint64_t> named;  // RAM pages the diff names
  for (uint64_t k = 0; k < diff.page_count; ++k) named.insert(table.index_of(Gpa{diff.page(k).gpa}));
  uint64_t held = 0;
  for (uint64_t i = 0; i <= single.ram_pages(); ++i) {
    held += single.slot(i) != ChainPages::kNone;
    if (named.contains(i)) continue;
    ASSERT_EQ(single.slot(i), table.slot(i)) << "RAM page " << i;
  }
  EXPECT_EQ(held, single.pages());
  EXPECT_EQ(held, base.page_count);
  EXPECT_GE(held, 14u) << "the filled pages and the kernel's";
  std::vector<std::pair<uint64_t, uint32_t>> a, b;
  single.for_each_slot([&](uint64_t i, uint32_t slot) {
    if (!named.contains(i)) a.emplace_back(i, slot);
  });
  table.for_each_slot([&](uint64_t i, uint32_t slot) {
    if (!named.contains(i)) b.emplace_back(i, slot);
  });
  EXPECT_EQ(a, b);
  EXPECT_GE(a.size() + named.size(), held);
  EXPECT_EQ(single.data(single.slot(single.index_of(Gpa{kData + 3 * kPageSize})))[0], 4);
  EXPECT_EQ(single.hash(single.slot(single.index_of(Gpa{kData + 3 * kPageSize}))),
            table.hash(table.slot(table.index_of(Gpa{kData + 3 * kPageSize}))));
}

// The binary search relies on ascending entries: a file whose entries are out of order is
// refused when read, never looked up.
TEST_F(ChainPagesTest, AnIndexOutOfOrderIsRefused) {
  auto v = vm(16 << 20);
  fill(*v, kData, 1);
  fill(*v, kData + kPageSize, 2);
  SaveStats s;
  const std::vector<uint8_t> file = encode_vm(*v, {}, s);
  const Container c = decode_container(file);
  std::vector<Section> sections;
  for (const SectionView& sv : c.sections) sections.push_back({sv.id, {sv.payload.begin(), sv.payload.end()}});
  std::vector<uint8_t>& index = sections[2].payload;  // five u64 counts, then the entries
  const uint64_t refs = parse_snapshot(file, nullptr).page_count;
  ASSERT_GE(refs, 2u);
  constexpr size_t kEntries = 5 * sizeof(uint64_t);
  std::swap_ranges(index.begin() + kEntries, index.begin() + kEntries + sizeof(IndexEntry),
                   index.begin() + kEntries + sizeof(IndexEntry));
  const std::vector<uint8_t> crafted = encode_container(0, sections);
  EXPECT_THROW((void)ChainPages({parse_snapshot(crafted, nullptr)}), SnapshotError);
}

TEST(ChainPages, AnEmptyChainIsRefused) { EXPECT_THROW(ChainPages({}), SnapshotError); }

}  // namespace
}  // namespace densevm::snapshot
