// LLDT, SLDT, VERR, VERW and selectors into the LDT (insn_descriptor.cc).
#include <gtest/gtest.h>

#include "tests/support/system_insn_fixture.h"

namespace densevm::cpu {
namespace {

TEST_F(SystemInsnTest, LldtLoadsTheLdtAndSldtReadsIt) {
  make(0);
  vm().set_gpr(kRax, kLdtSel);
  vm().set_gpr(kRbx, ~uint64_t{0});
  // lldt ax; sldt ebx
  ASSERT_EQ(run({0x0f, 0x00, 0xd0, 0x0f, 0x00, 0xc3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().ldtr, kLdtSel);
  EXPECT_EQ(state().ldt_base, kLdt);
  EXPECT_EQ(state().ldt_limit, 0x17u);
  EXPECT_EQ(vm().gpr(kRbx), kLdtSel) << "zero-extended";

  // An LDT selector now loads from the LDT, with the usual checks.
  state().cpl = 3;
  vm().vcpu().set_cpl(3);
  vm().set_gpr(kRax, kLdtUserData);
  ASSERT_EQ(run({0x8e, 0xd8}).kind, RunOutcome::Kind::kReachedStop);  // mov ds, eax
  EXPECT_EQ(state().ds, kLdtUserData);
  vm().set_gpr(kRax, 0x1f);  // index 3: past the LDT limit
  expect_gp(run({0x8e, 0xd8}), 0x1c);
}

TEST_F(SystemInsnTest, NullLldtMakesLdtSelectorsFault) {
  make(0);
  vm().set_gpr(kRax, 0);
  ASSERT_EQ(run({0x0f, 0x00, 0xd0}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().ldtr, 0);
  vm().set_gpr(kRax, kLdtUserData & ~3);  // RPL 0 data in the LDT
  expect_gp(run({0x8e, 0xd8}), kLdtUserData & ~3);
}

TEST_F(SystemInsnTest, LldtChecksTheDescriptor) {
  make(0);
  for (uint16_t bad : {kKernelData, kTssSel, kGateSel, uint16_t{kLdtSel | 4}, uint16_t{0x80}}) {
    vm().set_gpr(kRax, bad);
    SCOPED_TRACE(bad);
    expect_gp(run({0x0f, 0x00, 0xd0}), bad & 0xfffc);
  }
  EXPECT_EQ(state().ldtr, 0);
  // Not present: #NP.
  uint64_t low;
  vm().read(kGdt + kLdtSel, &low, 8);
  low &= ~(uint64_t{1} << 47);
  vm().write(kGdt + kLdtSel, &low, 8);
  vm().set_gpr(kRax, kLdtSel);
  const RunOutcome out = run({0x0f, 0x00, 0xd0});
  EXPECT_EQ(out.vector, kVecNp);
  EXPECT_EQ(out.error_code, kLdtSel);
}

TEST_F(SystemInsnTest, VerrAndVerwSetZfOnly) {
  make(3);
  struct Case {
    uint16_t selector;
    bool readable, writable;
  };
  const Case cases[] = {
      {kUserData, true, true},     {kUserCode, true, false},   {kKernelData, false, false},
      {kKernelCode, false, false}, {kTssSel | 3, false, false}, {0, false, false},
      {0x1003, false, false},      {kUser32Code, true, false},
      {kAbsentData | 3, false, false},  // DPL 0: not reachable from ring 3, present or not
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.selector);
    vm().set_gpr(kRax, c.selector);
    vm().set_rflags(kFlagCf);
    ASSERT_EQ(run({0x0f, 0x00, 0xe0}).kind, RunOutcome::Kind::kReachedStop);  // verr ax
    EXPECT_EQ((vm().rflags() & kFlagZf) != 0, c.readable);
    EXPECT_TRUE(vm().rflags() & kFlagCf) << "other flags kept";
    ASSERT_EQ(run({0x0f, 0x00, 0xe8}).kind, RunOutcome::Kind::kReachedStop);  // verw ax
    EXPECT_EQ((vm().rflags() & kFlagZf) != 0, c.writable);
  }
  // The memory form, and its page fault.
  const uint16_t sel = kUserData;
  vm().write(kData, &sel, 2);
  vm().set_gpr(kRdi, kData);
  ASSERT_EQ(run({0x0f, 0x00, 0x2f}).kind, RunOutcome::Kind::kReachedStop);  // verw [rdi]
  EXPECT_TRUE(vm().rflags() & kFlagZf);
  vm().set_gpr(kRdi, 0x900000);
  EXPECT_EQ(run({0x0f, 0x00, 0x2f}).vector, kVecPf);
}

TEST_F(SystemInsnTest, VerwOfADescriptorOnAnUnmappedPageFaults) {
  make(0);
  state().gdtr.limit = 0x2fff;  // the GDT runs on past its mapped pages
  vm().set_gpr(kRax, 0x2008);   // kGdt + 0x2008: not mapped
  const RunOutcome out = run({0x0f, 0x00, 0xe8});
  EXPECT_EQ(out.vector, kVecPf);
  EXPECT_EQ(out.cr2, kGdt + 0x2008);
}

TEST_F(SystemInsnTest, DataSegmentFromAGdtOnAnUnmappedPageFaults) {
  make(3);
  state().gdtr = {0x900000, 0xffff};  // nothing mapped there
  vm().set_gpr(kRax, kUserData);
  const RunOutcome out = run({0x8e, 0xd8});  // mov ds, eax
  EXPECT_EQ(out.vector, kVecPf);
  EXPECT_EQ(out.cr2, 0x900000u + (kUserData & ~7));
  EXPECT_EQ(out.error_code & kPfUser, 0u) << "a supervisor access, even from ring 3";
  EXPECT_EQ(state().ds, 0);
}

TEST_F(SystemInsnTest, LgdtRefusesANonCanonicalBase) {
  make(0);
  const uint8_t image[10] = {0xff, 0x0f, 0, 0, 0, 0, 0, 0x80, 0, 0};  // base 0x0000800000000000
  vm().write(kData, image, sizeof image);
  vm().set_gpr(kRdi, kData);
  expect_gp(run({0x0f, 0x01, 0x17}));  // lgdt [rdi]
  EXPECT_EQ(state().gdtr.base, kGdt);
}

}  // namespace
}  // namespace densevm::cpu
