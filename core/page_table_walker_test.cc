#include "core/page_table_walker.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "core/host_faults.h"
#include "core/x86_pte.h"

namespace densevm {
namespace {

using Walker = PageTableWalker<X86Pte>;

class PageTableWalkerTest : public ::testing::Test {
 protected:
  PageTableWalkerTest() : root_(*frames_.allocate()) {}

  FrameStore frames_{uint64_t{64} << 20};
  Walker walker_{frames_};
  Hpa root_;
  uint64_t tables_ = 0;
};

TEST(PageTableWalkerGeometry, IndicesAndSpans) {
  static_assert(Walker::span(1) == uint64_t{1} << 12);
  static_assert(Walker::span(2) == uint64_t{1} << 21);
  static_assert(Walker::span(3) == uint64_t{1} << 30);
  static_assert(Walker::span(4) == uint64_t{1} << 39);
  static_assert(Walker::kAddressLimit == uint64_t{1} << 48);
  const uint64_t addr = (uint64_t{5} << 39) | (uint64_t{6} << 30) | (uint64_t{7} << 21) | (8 << 12);
  EXPECT_EQ(Walker::index(addr, 4), 5u);
  EXPECT_EQ(Walker::index(addr, 3), 6u);
  EXPECT_EQ(Walker::index(addr, 2), 7u);
  EXPECT_EQ(Walker::index(addr, 1), 8u);
}

TEST_F(PageTableWalkerTest, FindStopsAtMissingTables) {
  EXPECT_NE(walker_.find(root_, 0x1234000, 4), nullptr) << "the root entry always exists";
  EXPECT_EQ(walker_.find(root_, 0x1234000, 1), nullptr);
}

TEST_F(PageTableWalkerTest, FindOrCreateBuildsThePathOnce) {
  X86Pte* leaf = walker_.find_or_create(root_, 0x1234000, 1, tables_);
  ASSERT_NE(leaf, nullptr);
  EXPECT_EQ(tables_, 3u);
  *leaf = X86Pte(X86Pte::kPresent | 0x9000);
  EXPECT_EQ(walker_.find_or_create(root_, 0x1235000, 1, tables_), leaf + 1);
  EXPECT_EQ(tables_, 3u);
  EXPECT_EQ(walker_.find(root_, 0x1234000, 1), leaf);
  const X86Pte* pml4e = walker_.find(root_, 0x1234000, 4);
  EXPECT_EQ(pml4e->raw() & ~X86Pte::kAddressMask,
            X86Pte::kPresent | X86Pte::kWritable | X86Pte::kUser);
  walker_.destroy(root_, [](uint64_t, X86Pte&, unsigned) {});
}

// A path of new tables costs one first-touch fault a table: each is written before it is
// read (read first, a fresh frame would fault twice: the zero page, then copy-on-write).
TEST_F(PageTableWalkerTest, NewTablesAreWrittenBeforeTheyAreRead) {
  ASSERT_NE(walker_.find_or_create(root_, 0x1234000, 1, tables_), nullptr);  // the store's own bookkeeping warm
  const uint64_t far = uint64_t{3} << 39;  // another PML4 entry: PDPT, PD and PT are new
  const FaultWindow window;
  X86Pte* leaf = walker_.find_or_create(root_, far, 1, tables_);
  ASSERT_NE(leaf, nullptr);
  EXPECT_FALSE(leaf->holds_frame());
  *leaf = X86Pte(X86Pte::kPresent | 0x9000);
  const uint64_t faults = window.faults();
  EXPECT_EQ(tables_, 6u);
  // Read first, each table is 2 faults (6); written first, 1 (3), and a sanitizer's shadow
  // pages for the new frames at most 2 more.
  EXPECT_LT(faults, 6u) << "a new table read before it was written";
  EXPECT_EQ(walker_.find(root_, far, 1), leaf);
  walker_.destroy(root_, [](uint64_t, X86Pte&, unsigned) {});
}

TEST_F(PageTableWalkerTest, LargeLeafStopsTheWalk) {
  X86Pte* pde = walker_.find_or_create(root_, 0x4000'0000, 2, tables_);
  ASSERT_NE(pde, nullptr);
  *pde = X86Pte(X86Pte::kPresent | X86Pte::kPageSize | 0x20'0000);
  EXPECT_EQ(walker_.find(root_, 0x4000'1000, 1), nullptr);
  const uint64_t before = tables_;
  EXPECT_EQ(walker_.find_or_create(root_, 0x4000'1000, 1, tables_), nullptr);
  EXPECT_EQ(tables_, before);
  walker_.destroy(root_, [](uint64_t, X86Pte&, unsigned) {});
}

TEST_F(PageTableWalkerTest, VisitsLeavesInRangeInOrder) {
  const uint64_t top = (uint64_t{1} << 48) - 0x1000;
  const uint64_t pages[] = {0x1000, 0x3000, 0x20'0000, uint64_t{1} << 39, top};
  for (uint64_t a : pages) {
    X86Pte* e = walker_.find_or_create(root_, a, 1, tables_);
    ASSERT_NE(e, nullptr);
    *e = X86Pte(X86Pte::kPresent | 0x5000);
  }
  X86Pte* pde = walker_.find_or_create(root_, 0x4000'0000, 2, tables_);
  *pde = X86Pte(X86Pte::kPresent | X86Pte::kPageSize | 0x20'0000);

  std::vector<std::pair<uint64_t, unsigned>> seen;
  auto record = [&](uint64_t addr, X86Pte&, unsigned level) { seen.emplace_back(addr, level); };
  walker_.for_each_leaf(root_, 0, ~uint64_t{0}, record);
  const std::vector<std::pair<uint64_t, unsigned>> all = {
      {0x1000, 1}, {0x3000, 1}, {0x20'0000, 1}, {0x4000'0000, 2},
      {uint64_t{1} << 39, 1}, {top, 1}};
  EXPECT_EQ(seen, all);

  seen.clear();
  walker_.for_each_leaf(root_, 0x2000, 0x4000'1000, record);
  const std::vector<std::pair<uint64_t, unsigned>> some = {
      {0x3000, 1}, {0x20'0000, 1}, {0x4000'0000, 2}};
  EXPECT_EQ(seen, some) << "a large leaf intersecting the range is visited";

  int leaves = 0;
  walker_.destroy(root_, [&](uint64_t, X86Pte&, unsigned) { ++leaves; });
  EXPECT_EQ(leaves, 6);
}

TEST_F(PageTableWalkerTest, DestroyReleasesEveryTableFrame) {
  for (uint64_t a = 0; a < (uint64_t{4} << 30); a += uint64_t{1} << 29) {
    ASSERT_NE(walker_.find_or_create(root_, a, 1, tables_), nullptr);
  }
  EXPECT_EQ(frames_.stats().frames_resident, tables_ + 1);
  walker_.destroy(root_, [](uint64_t, X86Pte&, unsigned) {});
  EXPECT_EQ(frames_.stats().frames_resident, 0u);
}

TEST_F(PageTableWalkerTest, FindOrCreateReportsExhaustion) {
  FrameStore tiny(3 * kPageSize);  // root + one table
  Walker walker(tiny);
  const Hpa root = *tiny.allocate();
  uint64_t created = 0;
  EXPECT_EQ(walker.find_or_create(root, 0x1000, 1, created), nullptr);
  EXPECT_EQ(created, 1u);
  walker.destroy(root, [](uint64_t, X86Pte&, unsigned) {});
  EXPECT_EQ(tiny.stats().frames_resident, 0u);
}

}  // namespace
}  // namespace densevm
