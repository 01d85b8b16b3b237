// MOV to and from DR0-DR7 (insn_debug.cc).
#include <gtest/gtest.h>

#include "tests/support/system_insn_fixture.h"

namespace densevm::cpu {
namespace {

TEST_F(SystemInsnTest, DebugRegistersResetAndRoundTrip) {
  make(0);
  // mov rax, dr6; mov rbx, dr7
  ASSERT_EQ(run({0x0f, 0x21, 0xf0, 0x0f, 0x21, 0xfb}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRax), 0xffff0ff0u);
  EXPECT_EQ(vm().gpr(kRbx), 0x400u);

  vm().set_gpr(kRax, 0xffff8000'12345678);
  // mov dr3, rax; mov rcx, dr3
  ASSERT_EQ(run({0x0f, 0x23, 0xd8, 0x0f, 0x21, 0xd9}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().dr[3], 0xffff8000'12345678u);
  EXPECT_EQ(vm().gpr(kRcx), 0xffff8000'12345678u);

  vm().set_gpr(kRax, 0xffffffff & ~(1u << 13));  // every bit but GD (see below)
  // mov dr6, rax; mov dr7, rax; mov rbx, dr6; mov rcx, dr7
  ASSERT_EQ(run({0x0f, 0x23, 0xf0, 0x0f, 0x23, 0xf8, 0x0f, 0x21, 0xf3, 0x0f, 0x21, 0xf9}).kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), 0xffffcfffu) << "bit 12 reads 0, BD was not written";
  EXPECT_EQ(vm().gpr(kRcx), 0xffff07ffu) << "bits 11, 12, 14, 15 read 0";
}

TEST_F(SystemInsnTest, DebugRegisterUpperBitsAreGp) {
  make(0);
  vm().set_gpr(kRax, uint64_t{1} << 32);
  expect_gp(run({0x0f, 0x23, 0xf0}));  // mov dr6, rax
  expect_gp(run({0x0f, 0x23, 0xf8}));  // mov dr7, rax
  EXPECT_EQ(state().dr6, kDr6Reset);
  EXPECT_EQ(state().dr7, kDr7Reset);
}

TEST_F(SystemInsnTest, Dr4AndDr5AliasDr6AndDr7UnlessCr4De) {
  make(0);
  vm().set_gpr(kRax, 0x1);  // B0
  // mov dr4, rax; mov rbx, dr6; mov rcx, dr5
  ASSERT_EQ(run({0x0f, 0x23, 0xe0, 0x0f, 0x21, 0xf3, 0x0f, 0x21, 0xe9}).kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), kDr6Reset | 1);
  EXPECT_EQ(vm().gpr(kRcx), kDr7Reset);
  vm().set_gpr(kRax, kCr4Pae | kCr4De);  // CPUID advertises DE: CR4.DE may be set
  ASSERT_EQ(run({0x0f, 0x22, 0xe0}).kind, RunOutcome::Kind::kReachedStop);  // mov cr4, rax
  EXPECT_EQ(state().cr4, kCr4Pae | kCr4De);
  RunOutcome out = run({0x0f, 0x21, 0xe9});  // mov rcx, dr5
  EXPECT_EQ(out.vector, kVecUd);
  out = run({0x0f, 0x23, 0xe0});  // mov dr4, rax
  EXPECT_EQ(out.vector, kVecUd);
  EXPECT_EQ(vm().vcpu().counters().unimplemented_ud, 0u);
}

TEST_F(SystemInsnTest, GeneralDetectMakesAccessesADebugFault) {
  make(0);
  vm().set_gpr(kRax, 1u << 13);  // GD
  ASSERT_EQ(run({0x0f, 0x23, 0xf8}).kind, RunOutcome::Kind::kReachedStop);  // mov dr7, rax
  const RunOutcome out = run({0x0f, 0x21, 0xc0});  // mov rax, dr0
  EXPECT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, kVecDb);
  EXPECT_EQ(vm().rip(), kCode) << "a fault";
  EXPECT_EQ(state().dr6 & (1u << 13), 1u << 13) << "BD";
  EXPECT_EQ(state().dr7 & (1u << 13), 0u) << "GD cleared for the handler";
  ASSERT_EQ(run({0x0f, 0x21, 0xc0}).kind, RunOutcome::Kind::kReachedStop);
}

}  // namespace
}  // namespace densevm::cpu
