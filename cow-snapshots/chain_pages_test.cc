#include "cow-snapshots/chain_pages.h"

#include <gtest/gtest.h>

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

TEST(ChainPages, AnEmptyChainIsRefused) { EXPECT_THROW(ChainPages({}), SnapshotError); }

}  // namespace
}  // namespace densevm::snapshot
