#include "planner/page_sets.h"

#include <gtest/gtest.h>

#include "planner/fleet.h"
#include "planner/internal/test_fingerprints.h"

namespace densevm::planner {
namespace {

using testing::mixed_vm;

// Three VMs of 4000 pages: 1000 zero, 2000 shared by all (contents 0..), 1000 their own.
std::vector<Fingerprint> three(uint32_t k) {
  return {mixed_vm("a", 1000, 2000, 1000, 0, 100000, k), mixed_vm("b", 1000, 2000, 1000, 0, 200000, k),
          mixed_vm("c", 1000, 2000, 1000, 0, 300000, k)};
}

TEST(PageSets, ExactUnionsAndSharedPages) {
  const Fleet f = fleet_of(three(KmvSketch::kDefaultK));
  ASSERT_TRUE(f.sets.is_exact());
  EXPECT_EQ(f.sets.distinct(0), 3000u);
  EXPECT_EQ(f.sets.union_pages(std::vector<size_t>{0, 1}), 4000u);
  EXPECT_EQ(f.sets.union_pages(std::vector<size_t>{0, 1, 2}), 5000u);
  EXPECT_EQ(f.sets.shared_pages(0, 2), 2000u);
  PageSets::Union u = f.sets.start();
  u.add(0);
  EXPECT_EQ(u.pages(), 3000u);
  EXPECT_EQ(u.pages_with(1), 4000u);
  EXPECT_EQ(u.pages(), 3000u) << "pages_with does not add";
}

TEST(PageSets, SketchedAnswersStayNearTheExactOnesAndWithinTheirBounds) {
  constexpr uint32_t k = 256;  // the sets (3000 pages) are larger than k: estimated
  std::vector<KmvSketch> sketches;
  std::vector<uint64_t> distinct;
  for (const Fingerprint& fp : three(k)) {
    sketches.push_back(fp.sketch);
    distinct.push_back(fp.distinct_pages);
  }
  const PageSets s = PageSets::sketched(sketches, distinct);
  ASSERT_FALSE(s.is_exact());
  const double tolerance = 4 * KmvSketch::expected_error(k);
  const auto all = s.union_pages(std::vector<size_t>{0, 1, 2});
  EXPECT_NEAR(static_cast<double>(all), 5000.0, 5000.0 * tolerance);
  EXPECT_GE(all, 3000u);
  EXPECT_LE(all, 9000u);
  EXPECT_NEAR(static_cast<double>(s.shared_pages(0, 1)), 2000.0, 4000.0 * tolerance);
  PageSets::Union u = s.start();
  u.add(0);
  EXPECT_EQ(u.pages(), 3000u) << "one VM: its exact count";
}

TEST(PageSets, TheSketchCheckComparesAgainstExactSets) {
  const SketchCheck c = check_sketches(three(256));
  EXPECT_EQ(c.vms, 3u);
  EXPECT_EQ(c.exact_pages, 5000u);
  EXPECT_EQ(c.k, 256u);
  EXPECT_NEAR(static_cast<double>(c.sketch_pages), 5000.0, 5000.0 * 4 * c.expected_error);
  EXPECT_LT(c.max_error, 4 * c.expected_error);
  EXPECT_GE(c.max_error, std::abs(static_cast<double>(c.sketch_pages) - 5000.0) / 5000.0 - 1e-12);
}

}  // namespace
}  // namespace densevm::planner
