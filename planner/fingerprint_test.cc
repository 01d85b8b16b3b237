#include "planner/fingerprint.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "dedup/page_hash.h"
#include "planner/internal/test_fingerprints.h"

namespace densevm::planner {
namespace {

using testing::content;
using testing::kZero;

TEST(Fingerprint, ZeroPagesUseDedupsOwnHashOfTheZeroPage) {
  EXPECT_EQ(zero_page_hash(), xxh3_page(zero_page()));
}

TEST(Fingerprint, CountsZeroNonZeroAndDistinctPages) {
  const Fingerprint fp = testing::synthetic_vm("vm", {kZero, content(1), content(2), content(1), kZero, content(3)});
  EXPECT_EQ(fp.ram_pages, 6u);
  EXPECT_EQ(fp.zero_pages, 2u);
  EXPECT_EQ(fp.nonzero_pages(), 4u);
  EXPECT_EQ(fp.distinct_pages, 3u);
  EXPECT_EQ(fp.sketch.estimate(), 3.0);
  std::vector<uint64_t> expected = {content(1), content(2), content(3)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(distinct_nonzero(fp), expected);
}

TEST(Fingerprint, PositionSamplesAreTheSameAddressesInEveryVm) {
  std::vector<uint64_t> a, b;
  for (uint64_t i = 0; i < 8192; ++i) {
    a.push_back(content(i));
    b.push_back(content(100000 + i));
  }
  const Fingerprint x = testing::synthetic_vm("a", a);
  const Fingerprint y = testing::synthetic_vm("b", b);
  ASSERT_EQ(x.samples.size(), y.samples.size());
  EXPECT_GT(x.samples.size(), 8192u / kPositionSampleRate / 2);
  EXPECT_LT(x.samples.size(), 8192u / kPositionSampleRate * 2);
  for (size_t i = 0; i < x.samples.size(); ++i) {
    EXPECT_EQ(x.samples[i].gpa, y.samples[i].gpa);
    EXPECT_EQ(x.samples[i].hash, a[x.samples[i].gpa / kPageBytes]);
  }
}

TEST(Fingerprint, RangesMustCoverOneHashPerPage) {
  EXPECT_THROW((void)fingerprint_of("vm", ImageKind::kRaw, {{0, 3}}, {kZero, kZero}), std::invalid_argument);
}

}  // namespace
}  // namespace densevm::planner
