// Self-tests of the native side: known snippets give known registers, memory and faults.
#include "tests/diff/native_runner.h"

#include <gtest/gtest.h>

#include <cstring>

namespace densevm::diff {
namespace {

DiffCase make_case(std::vector<uint8_t> code) {
  DiffCase c;
  c.code = std::move(code);
  for (unsigned i = 0; i < kGprCount; ++i) c.in.gpr[i] = 0x0101010101010101 * (i + 1);
  c.in.gpr[kRsp] = kStackTop;
  return c;
}

TEST(NativeRunner, EmptySnippetPreservesEveryRegisterAndFlag) {
  DiffCase c = make_case({});
  c.in.rflags = kRflagsFixed | kFlagCf | kFlagZf | kFlagOf | kFlagDf | kFlagAf;
  std::vector<NativeOutcome> out = run_native(std::span(&c, 1));
  ASSERT_EQ(out[0].kind, NativeOutcome::Kind::kCompleted) << describe(out[0]);
  for (unsigned i = 0; i < kGprCount; ++i) EXPECT_EQ(out[0].regs.gpr[i], c.in.gpr[i]) << i;
  EXPECT_EQ(out[0].regs.rflags, c.in.rflags);
  EXPECT_EQ(out[0].rip, kCodeBase);
  EXPECT_TRUE(out[0].changed.empty());
}

TEST(NativeRunner, AddComputesSumAndFlags) {
  DiffCase c = make_case({0x48, 0x01, 0xD8});  // add rax, rbx
  c.in.gpr[kRax] = ~uint64_t{0};
  c.in.gpr[kRbx] = 1;
  std::vector<NativeOutcome> out = run_native(std::span(&c, 1));
  ASSERT_EQ(out[0].kind, NativeOutcome::Kind::kCompleted) << describe(out[0]);
  EXPECT_EQ(out[0].regs.gpr[kRax], 0u);
  EXPECT_EQ(out[0].regs.rflags & kComparedFlags, kFlagCf | kFlagZf | kFlagPf | kFlagAf);
}

TEST(NativeRunner, StoreAndPushShowAsChangedChunks) {
  // mov [rdi], rax ; push rbx
  DiffCase c = make_case({0x48, 0x89, 0x07, 0x53});
  c.in.gpr[kRdi] = kDataBase + 0x1000;
  std::vector<NativeOutcome> out = run_native(std::span(&c, 1));
  ASSERT_EQ(out[0].kind, NativeOutcome::Kind::kCompleted) << describe(out[0]);
  ASSERT_EQ(out[0].changed.size(), 2u);
  EXPECT_EQ(out[0].changed[0].offset, 0x1000u);
  uint64_t stored = 0;
  std::memcpy(&stored, out[0].changed[0].bytes.data(), 8);
  EXPECT_EQ(stored, c.in.gpr[kRax]);
  EXPECT_EQ(out[0].regs.gpr[kRsp], kStackTop - 8);
}

TEST(NativeRunner, FaultsBecomeExceptionsAndLaterCasesStillRun) {
  std::vector<DiffCase> cases;
  cases.push_back(make_case({0x0F, 0x0B}));              // ud2
  cases.push_back(make_case({0x48, 0xF7, 0xF1}));        // div rcx
  cases.back().in.gpr[kRcx] = 0;
  cases.push_back(make_case({0x48, 0x8B, 0x03}));        // mov rax, [rbx]
  cases.back().in.gpr[kRbx] = kDataBase + kDataSize + 8;
  cases.push_back(make_case({0x48, 0x8B, 0x03}));        // mov rax, [rbx], non-canonical
  cases.back().in.gpr[kRbx] = 0x8000000000000000;
  cases.push_back(make_case({0x90}));
  std::vector<NativeOutcome> out = run_native(cases);
  const uint8_t vectors[] = {6, 0, 14, 13};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(out[i].kind, NativeOutcome::Kind::kException) << i;
    EXPECT_EQ(out[i].vector, vectors[i]) << describe(out[i]);
    EXPECT_EQ(out[i].rip, kCodeBase) << i;
    EXPECT_EQ(out[i].regs.gpr[kRbx], cases[i].in.gpr[kRbx]) << i;
  }
  EXPECT_EQ(out[2].fault_address, kDataBase + kDataSize + 8);
  EXPECT_EQ(out[2].error_code & 0x7, 0x4u);  // user read of a not-present page
  EXPECT_EQ(out[4].kind, NativeOutcome::Kind::kCompleted);
}

TEST(NativeRunner, EndlessLoopTimesOut) {
  DiffCase c = make_case({0xEB, 0xFE});  // jmp $
  std::vector<NativeOutcome> out = run_native(std::span(&c, 1));
  EXPECT_EQ(out[0].kind, NativeOutcome::Kind::kTimeout) << describe(out[0]);
}

}  // namespace
}  // namespace densevm::diff
