// Differential tests: every instruction group, run natively and in FlatVm.
//
// Each test generates its group's cases from a fixed seed, runs them all natively in one
// child process, then one FlatVm per case, and fails with a per-form summary plus the first
// failing case of each form (disassembly, inputs, both results).
// DENSEVM_DIFF_SCALE (default 1) multiplies the cases per form.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "tests/diff/diff_check.h"
#include "tests/diff/insn_gen.h"
#include "tests/diff/translated_check.h"

namespace densevm::diff {
namespace {

constexpr uint64_t kSeed = 0xD1FF5EED;

size_t per_form(size_t base) {
  const char* scale = std::getenv("DENSEVM_DIFF_SCALE");
  const long factor = scale ? std::strtol(scale, nullptr, 10) : 1;
  return base * static_cast<size_t>(factor > 0 ? factor : 1);
}

class DiffTest : public ::testing::TestWithParam<Group> {};

TEST_P(DiffTest, MatchesHostCpu) {
  const std::vector<DiffCase> cases = generate(GetParam(), kSeed, per_form(24));
  ASSERT_FALSE(cases.empty());
  const GroupReport report = run_group(cases);
  RecordProperty("cases", static_cast<int>(report.cases));
  EXPECT_EQ(report.failed, 0u) << report.summary();
}

// The same cases translated: bit for bit the interpreter's results (translated_check.h).
TEST_P(DiffTest, TranslatedMatchesInterpreter) {
  const std::vector<DiffCase> cases = generate(GetParam(), kSeed, per_form(24));
  ASSERT_FALSE(cases.empty());
  const TranslatedReport report = run_group_translated(cases);
  RecordProperty("cases", static_cast<int>(report.group.cases));
  RecordProperty("translated_instructions", static_cast<int>(report.translated));
  RecordProperty("translated_entries", static_cast<int>(report.entries));
  EXPECT_EQ(report.group.failed, 0u) << report.group.summary();
  EXPECT_GE(report.entries, report.group.cases / 2) << "translated code hardly ran";
}

INSTANTIATE_TEST_SUITE_P(Groups, DiffTest, ::testing::ValuesIn(kAllGroups),
                         [](const ::testing::TestParamInfo<Group>& param) {
                           return std::string(group_name(param.param));
                         });

}  // namespace
}  // namespace densevm::diff
