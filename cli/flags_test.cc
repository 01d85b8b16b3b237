#include "cli/flags.h"

#include <gtest/gtest.h>

namespace densevm::cli {
namespace {

constexpr Range kAny{0, ~uint64_t{0}};

TEST(Flags, SizesTakeBinarySuffixesInAnyCase) {
  EXPECT_EQ(parse_size("--mem", "4096", kAny), 4096u);
  EXPECT_EQ(parse_size("--mem", "512K", kAny), 512u << 10);
  EXPECT_EQ(parse_size("--mem", "64m", kAny), uint64_t{64} << 20);
  EXPECT_EQ(parse_size("--mem", "1GiB", kAny), uint64_t{1} << 30);
  EXPECT_EQ(parse_size("--mem", "2tb", kAny), uint64_t{2} << 40);
  EXPECT_EQ(parse_size("--mem", "7B", kAny), 7u);
  for (const char* bad : {"", "M", "lots", "5Q", "5MM", "-1M", "99999999999T"}) {
    EXPECT_THROW((void)parse_size("--mem", bad, kAny), UsageError) << bad;
  }
  EXPECT_THROW((void)parse_size("--mem", "2M", {4 << 20, 8 << 20}), UsageError);
}

TEST(Flags, CountsAreWholeNumbersInTheirRange) {
  EXPECT_EQ(parse_count("--vms", "17", {1, 4096}), 17u);
  for (const char* bad : {"", "0", "4097", "+3", "3.0", "0x10", " 3"}) {
    EXPECT_THROW((void)parse_count("--vms", bad, {1, 4096}), UsageError) << bad;
  }
}

TEST(Flags, SizeTextIsExact) {
  EXPECT_EQ(size_text(uint64_t{1} << 20), "1M");
  EXPECT_EQ(size_text(uint64_t{128} << 30), "128G");
  EXPECT_EQ(size_text(4096), "4K");
  EXPECT_EQ(size_text(1000), "1000");
  EXPECT_EQ(size_text(0), "0");
}

}  // namespace
}  // namespace densevm::cli
