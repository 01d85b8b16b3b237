#include "planner/kmv_sketch.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "planner/internal/test_fingerprints.h"

namespace densevm::planner {
namespace {

using testing::content;

std::vector<uint64_t> sorted_contents(uint64_t from, uint64_t count) {
  std::vector<uint64_t> v;
  for (uint64_t i = 0; i < count; ++i) v.push_back(content(from + i));
  std::sort(v.begin(), v.end());
  return v;
}

TEST(KmvSketch, ASetSmallerThanKIsHeldWholeAndCountedExactly) {
  const KmvSketch s = KmvSketch::of(sorted_contents(0, 1000), 4096);
  EXPECT_TRUE(s.exact());
  EXPECT_EQ(s.estimate(), 1000.0);
  const KmvSketch t = KmvSketch::of(sorted_contents(500, 1000), 4096);
  EXPECT_EQ(KmvSketch::union_estimate(s, t), 1500.0) << "overlapping halves, both exact";
}

TEST(KmvSketch, LargeSetsAreEstimatedWithinFourStandardErrors) {
  constexpr uint32_t k = 1024;
  for (const uint64_t n : {5000u, 50000u, 400000u}) {
    const KmvSketch s = KmvSketch::of(sorted_contents(n * 7, n), k);
    EXPECT_FALSE(s.exact());
    const double error = std::abs(s.estimate() - static_cast<double>(n)) / static_cast<double>(n);
    EXPECT_LT(error, 4 * KmvSketch::expected_error(k)) << n;
  }
}

TEST(KmvSketch, TheUnionsSketchIsTheSketchOfTheUnion) {
  constexpr uint32_t k = 512;
  const std::vector<uint64_t> a = sorted_contents(0, 20000);
  const std::vector<uint64_t> b = sorted_contents(15000, 20000);  // 5000 in common
  std::vector<uint64_t> both;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
  KmvSketch merged = KmvSketch::of(a, k);
  merged.merge(KmvSketch::of(b, k));
  const KmvSketch direct = KmvSketch::of(both, k);
  ASSERT_EQ(merged.values().size(), direct.values().size());
  EXPECT_TRUE(std::equal(merged.values().begin(), merged.values().end(), direct.values().begin()));
  EXPECT_EQ(KmvSketch::union_estimate(KmvSketch::of(a, k), KmvSketch::of(b, k)), direct.estimate());
  EXPECT_NEAR(direct.estimate(), 35000.0, 35000.0 * 4 * KmvSketch::expected_error(k));
}

TEST(KmvSketch, MergingSketchesOfDifferentSizesKeepsTheSmallerK) {
  KmvSketch a = KmvSketch::of(sorted_contents(0, 10000), 256);
  a.merge(KmvSketch::of(sorted_contents(0, 10000), 1024));
  EXPECT_EQ(a.k(), 256u);
  EXPECT_EQ(a.values().size(), 256u);
}

TEST(KmvSketch, ValuesReadBackMustBeAscendingAndAtMostK) {
  EXPECT_THROW((void)KmvSketch::from_values({3, 2}, 16), std::invalid_argument);
  EXPECT_THROW((void)KmvSketch::from_values({1, 2, 3}, 2), std::invalid_argument);
  EXPECT_THROW((void)KmvSketch::from_values({1, 1}, 16), std::invalid_argument);
  EXPECT_EQ(KmvSketch::from_values({1, 5, 9}, 16).estimate(), 3.0);
}

}  // namespace
}  // namespace densevm::planner
