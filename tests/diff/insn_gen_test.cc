// Self-tests of the generators on the host CPU alone: every case must behave as its group
// intends natively (no fault outside the Fault group, the intended fault inside it), so a
// differential failure always points at the interpreter, not at the generator.
#include "tests/diff/insn_gen.h"

#include <gtest/gtest.h>

#include "tests/diff/disasm.h"
#include "tests/diff/native_runner.h"

namespace densevm::diff {
namespace {

class GeneratorTest : public ::testing::TestWithParam<Group> {};

TEST_P(GeneratorTest, CasesBehaveAsIntendedNatively) {
  const std::vector<DiffCase> cases = generate(GetParam(), 0xC0FFEE, 8);
  ASSERT_FALSE(cases.empty());
  const std::vector<NativeOutcome> native = run_native(cases);
  const Outcome want = expected_outcome(GetParam());
  auto as_intended = [&](NativeOutcome::Kind k) {
    switch (want) {
      case Outcome::kCompletes: return k == NativeOutcome::Kind::kCompleted;
      case Outcome::kFaults: return k == NativeOutcome::Kind::kException;
      case Outcome::kEither:
        return k == NativeOutcome::Kind::kCompleted || k == NativeOutcome::Kind::kException;
    }
    return false;
  };
  size_t bad = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (as_intended(native[i].kind)) continue;
    if (++bad > 5) continue;
    ADD_FAILURE() << "[" << cases[i].label << "] " << describe(native[i]) << "\n"
                  << disassemble(cases[i].code);
  }
  EXPECT_EQ(bad, 0u);
}

TEST_P(GeneratorTest, IsDeterministic) {
  const std::vector<DiffCase> a = generate(GetParam(), 7, 2), b = generate(GetParam(), 7, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].code, b[i].code);
    EXPECT_EQ(a[i].in.gpr, b[i].in.gpr);
    EXPECT_EQ(a[i].in.fx, b[i].in.fx);
  }
}

INSTANTIATE_TEST_SUITE_P(Groups, GeneratorTest, ::testing::ValuesIn(kAllGroups),
                         [](const ::testing::TestParamInfo<Group>& param) {
                           return std::string(group_name(param.param));
                         });

}  // namespace
}  // namespace densevm::diff
