// Far JMP, CALL and RET (insn_far.cc) and the IRETQ checks around them.
#include <gtest/gtest.h>

#include "tests/support/system_insn_fixture.h"

namespace densevm::cpu {
namespace {

// rex64 ljmp / lcall through [rdi]: an m16:64 pointer.
const Bytes kLjmp64 = {0x48, 0xff, 0x2f}, kLcall64 = {0x48, 0xff, 0x1f};

class FarTest : public SystemInsnTest {
 protected:
  void set_pointer(uint64_t offset, uint16_t selector) {
    vm().write(kData, &offset, 8);
    vm().write(kData + 8, &selector, 2);
    vm().set_gpr(kRdi, kData);
  }
};

// Issue 15: every one of these reached its target before; the SDM says #GP(selector), or
// #GP(0) for a null selector whatever its RPL.
TEST_F(FarTest, FarJumpAndCallToBadSelectorsAreGp) {
  const uint16_t bad[] = {0, 3, kKernelData, 0x18, kTssSel, kTssSel | 3, kGdtEntries * 8,
                          kKernelCode, kUser32Code, kLdtSel};
  for (const Bytes& insn : {kLjmp64, kLcall64}) {
    for (uint16_t selector : bad) {
      make(3);
      set_pointer(kCode + 0x100, selector);
      SCOPED_TRACE(::testing::Message() << (insn == kLjmp64 ? "ljmp " : "lcall ") << selector);
      expect_gp(run(insn), selector & 0xfffc);
      EXPECT_EQ(state().cs, kUserCode);
      EXPECT_EQ(vm().gpr(kRsp), kStack + 0x1000) << "nothing pushed";
    }
  }
}

TEST_F(FarTest, FarJumpToAnAbsentSegmentIsNp) {
  make(0);
  uint64_t code;
  vm().read(kGdt + kKernelCode, &code, 8);
  code &= ~(uint64_t{1} << 47);
  vm().write(kGdt + 0x18, &code, 8);
  set_pointer(kCode + 0x100, 0x18);
  const RunOutcome out = run(kLjmp64);
  EXPECT_EQ(out.vector, kVecNp);
  EXPECT_EQ(out.error_code, 0x18u);
}

TEST_F(FarTest, FarJumpInTheSameRingLoadsCs) {
  make(0);
  state().cs = 0;
  set_pointer(kCode + 0x100, kKernelCode);
  vm().write(kCode, kLjmp64.data(), kLjmp64.size());
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x100, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cs, kKernelCode);

  make(3);  // m16:32, RPL 3
  const uint32_t narrow = kCode + 0x200;
  vm().write(kData, &narrow, 4);
  vm().write(kData + 4, &kUserCode, 2);
  vm().set_gpr(kRdi, kData);
  vm().write(kCode, Bytes{0xff, 0x2f}.data(), 2);
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x200, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cs, kUserCode);

  make(3);  // a non-canonical offset is #GP(0)
  set_pointer(0x8000'0000'0000'0000, kUserCode);
  expect_gp(run(kLjmp64));
}

TEST_F(FarTest, FarCallPushesCsAndRipAndLretqReturns) {
  make(3);
  set_pointer(kCode + 0x100, kUserCode);
  const Bytes lretq = {0x48, 0xcb};
  vm().write(kCode + 0x100, lretq.data(), lretq.size());
  vm().write(kCode, kLcall64.data(), kLcall64.size());
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x100, 5).kind, RunOutcome::Kind::kReachedStop);
  uint64_t frame[2];
  vm().read(kStack + 0x1000 - 16, frame, sizeof frame);
  EXPECT_EQ(frame[0], kCode + 3);
  EXPECT_EQ(frame[1], kUserCode);
  ASSERT_EQ(vm().run_until(kCode + 3, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x1000);
}

// A DPL-3 64-bit call gate into ring 0: the stack switches to TSS.RSP0 and gets the old
// SS, RSP, CS and RIP; LRETQ goes back to ring 3 with its stack.
TEST_F(FarTest, CallGateIntoRing0AndLretqBack) {
  make(3);
  const uint64_t rsp0 = kStack + 0x800;
  vm().map(kTss, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  vm().write(kTss + 4, &rsp0, 8);
  state().tss_base = kTss;
  state().ss = kUserData;
  set_pointer(0xdead, kGateSel | 3);  // the offset of a gate call is ignored
  const Bytes lretq = {0x48, 0xcb};
  vm().write(kGateTarget, lretq.data(), lretq.size());
  vm().write(kCode, kLcall64.data(), kLcall64.size());
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kGateTarget, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cpl, 0);
  EXPECT_EQ(state().cs, kKernelCode);
  EXPECT_EQ(state().ss, 0) << "a null SS with RPL 0";
  EXPECT_EQ(vm().gpr(kRsp), rsp0 - 32);
  uint64_t frame[4];
  vm().read(rsp0 - 32, frame, sizeof frame);
  EXPECT_EQ(frame[0], kCode + 3);
  EXPECT_EQ(frame[1], kUserCode);
  EXPECT_EQ(frame[2], kStack + 0x1000);
  EXPECT_EQ(frame[3], kUserData);

  ASSERT_EQ(vm().run_until(kCode + 3, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cpl, 3);
  EXPECT_EQ(state().cs, kUserCode);
  EXPECT_EQ(state().ss, kUserData);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x1000);

  make(3);  // a jump through the gate may not change privilege
  set_pointer(0, kGateSel | 3);
  expect_gp(run(kLjmp64), kKernelCode);
}

// Issue 15: lretq to an outer ring stopped the VM. Now it returns with its stack (SDM RET,
// IA-32e mode), and its SS is checked like IRETQ's.
TEST_F(FarTest, LretqFromRing0ToRing3) {
  make(0);
  const uint64_t frame[4] = {kCode + 0x100, kUserCode, kStack + 0x400, kUserData};
  vm().write(kStack + 0xf00, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xf00);
  vm().write(kCode, Bytes{0x48, 0xca, 0x08, 0x00}.data(), 4);  // lretq 8
  vm().write(kStack + 0xf18, frame + 2, 16);  // RSP and SS after the 8 released bytes
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x100, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cpl, 3);
  EXPECT_EQ(state().cs, kUserCode);
  EXPECT_EQ(state().ss, kUserData);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x408) << "the outer stack releases 8 bytes too";

  for (uint16_t ss : {uint16_t{0}, uint16_t{3}, kKernelData, uint16_t{kKernelData | 3},
                      kUserCode}) {
    make(0);
    const uint64_t bad[4] = {kCode + 0x100, kUserCode, kStack + 0x400, ss};
    vm().write(kStack + 0xf00, bad, sizeof bad);
    vm().set_gpr(kRsp, kStack + 0xf00);
    SCOPED_TRACE(ss);
    expect_gp(run({0x48, 0xcb}), ss & 0xfffc);
    EXPECT_EQ(state().cpl, 0);
    EXPECT_EQ(vm().gpr(kRsp), kStack + 0xf00);
  }
}

TEST_F(FarTest, ReturnsToCompatibilityModeAreGp) {
  make(3);
  const uint64_t frame[2] = {kCode, kUser32Code};
  vm().write(kStack + 0xff0, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xff0);
  expect_gp(run({0x48, 0xcb}), kUser32Code & ~3);  // lretq
  const uint64_t iret[5] = {kCode, kUser32Code, kFlagFixed1, kStack + 0x800, kUserData};
  vm().write(kStack + 0xfd8, iret, sizeof iret);
  vm().set_gpr(kRsp, kStack + 0xfd8);
  expect_gp(run({0x48, 0xcf}), kUser32Code & ~3);  // iretq
}

// Issue 15: "iretq with every RFLAGS bit set": with NT set, IRET in IA-32e mode is #GP(0)
// (a task return), whatever the frame holds; RFLAGS ~0 in the frame itself is loaded as
// POPF would, VM and the other reserved bits ignored.
TEST_F(FarTest, IretqWithEveryFlagSet) {
  make(3);
  // push -1; popfq; iretq
  const RunOutcome out = run({0x6a, 0xff, 0x9d, 0x48, 0xcf});
  EXPECT_EQ(out.vector, kVecGp);
  EXPECT_EQ(out.error_code, 0u);
  EXPECT_EQ(vm().rip(), kCode + 3);
  EXPECT_TRUE(vm().rflags() & kFlagNt);

  make(0);
  const uint64_t frame[5] = {kCode + 0x100, kKernelCode, ~uint64_t{0}, kStack + 0x800,
                             kKernelData};
  vm().write(kStack + 0xfd8, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xfd8);
  vm().write(kCode, Bytes{0x48, 0xcf}.data(), 2);
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x100, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().rflags(), kFlagsWritable | kFlagFixed1);
  vm().write(kStack + 0xfd8, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xfd8);
  expect_gp(run({0x48, 0xcf}));  // NT is now set: the next IRETQ faults
}

}  // namespace
}  // namespace densevm::cpu
