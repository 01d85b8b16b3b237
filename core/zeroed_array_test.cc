#include "core/zeroed_array.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <cstdint>
#include <utility>

namespace densevm {
namespace {

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

TEST(ZeroedArray, ReadsZeroUntilWrittenAndKeepsWhatIsWritten) {
  ZeroedArray<uint32_t> a(10000);
  ASSERT_EQ(a.size(), 10000u);
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], 0u) << i;
  a[9999] = 7;
  a[0] = 3;
  EXPECT_EQ(a[9999], 7u);
  EXPECT_EQ(a[0], 3u);
  EXPECT_EQ(a[5000], 0u);

  ZeroedArray<std::atomic<uint64_t>> atomics(3);
  EXPECT_EQ(atomics[2].load(), 0u);
  uint64_t expected = 0;
  EXPECT_TRUE(atomics[2].compare_exchange_strong(expected, 42));
  EXPECT_EQ(atomics[2].load(), 42u);
}

TEST(ZeroedArray, MovesOwnershipAndHoldsNothingWhenEmpty) {
  ZeroedArray<uint32_t> a(4);
  a[1] = 5;
  ZeroedArray<uint32_t> b(std::move(a));
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(b[1], 5u);
  ZeroedArray<uint32_t> c;
  c = std::move(b);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c[1], 5u);
  EXPECT_EQ(ZeroedArray<uint32_t>(0).size(), 0u);
}

// Making it touches none of its pages: a 64 MiB array costs no faults until it is used
// (a std::vector of the same size would take 16384).
TEST(ZeroedArray, MakingItTouchesNoneOfItsPages) {
  const long before = minor_faults();
  ZeroedArray<uint64_t> big(uint64_t{8} << 20);
  const long made = minor_faults() - before;
  EXPECT_LT(made, 16);  // the test's own stack and bookkeeping, not the array's 16384 pages
  big[0] = 1;
  EXPECT_EQ(big[0], 1u);
}

}  // namespace
}  // namespace densevm
