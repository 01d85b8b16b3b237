// Shifts and rotates in FlatVm: count masking, count 0 and 1, the width edge, RCL/RCR
// through CF, SHLD/SHRD, and a faulting memory form.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpu_state.h"

namespace densevm::testing {
namespace {

using cpu::kFlagCf;
using cpu::kFlagOf;
using cpu::kFlagPf;
using cpu::kFlagSf;
using cpu::kFlagZf;

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000, kReadOnly = 0x20002000;
constexpr uint64_t kStatus = kFlagCf | kFlagPf | kFlagZf | kFlagSf | kFlagOf;

class InsnShift : public ::testing::Test {
 protected:
  InsnShift() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, 0x2000, FlatVm::kRead | FlatVm::kWrite);
    vm_.map(kReadOnly, 0x1000, FlatVm::kRead);
  }
  RunOutcome run(const std::vector<uint8_t>& code, uint64_t flags = 0x2) {
    vm_.set_rflags(flags);
    return vm_.run_code(kCode, code, 100);
  }
  uint64_t status() const { return vm_.rflags() & kStatus; }

  FlatVm vm_;
};

TEST_F(InsnShift, MaskedCountZeroChangesNoFlagButZeroExtends) {
  vm_.set_gpr(0, 0xffffffff80000001);
  vm_.set_gpr(1, 32);  // masked to 0 for a 32-bit shift
  ASSERT_EQ(run({0xd3, 0xe0}, 0x2 | kFlagCf | kFlagOf | kFlagZf).kind,  // shl eax, cl
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(0), 0x80000001u);
  EXPECT_EQ(status(), kFlagCf | kFlagOf | kFlagZf);
}

TEST_F(InsnShift, ShlByOneSetsCarryAndOverflow) {
  vm_.set_gpr(0, 0x1234'0081);
  ASSERT_EQ(run({0xd0, 0xe0}).kind, RunOutcome::Kind::kReachedStop);  // shl al, 1
  EXPECT_EQ(vm_.gpr(0), 0x1234'0002u);
  EXPECT_EQ(status(), kFlagCf | kFlagOf);  // OF = MSB(result) XOR CF
}

TEST_F(InsnShift, ShlByTheWidthShiftsEverythingOut) {
  vm_.set_gpr(0, 0xabcd'0001);
  ASSERT_EQ(run({0x66, 0xc1, 0xe0, 0x10}).kind, RunOutcome::Kind::kReachedStop);  // shl ax, 16
  EXPECT_EQ(vm_.gpr(0), 0xabcd'0000u);
  EXPECT_EQ(status() & (kFlagCf | kFlagZf | kFlagPf | kFlagSf), kFlagCf | kFlagZf | kFlagPf);
}

TEST_F(InsnShift, SarBy63SpreadsTheSign) {
  vm_.set_gpr(0, 0x8000'0000'0000'0000);
  ASSERT_EQ(run({0x48, 0xc1, 0xf8, 0x3f}).kind, RunOutcome::Kind::kReachedStop);  // sar rax, 63
  EXPECT_EQ(vm_.gpr(0), ~uint64_t{0});
  EXPECT_EQ(status(), kFlagSf | kFlagPf);  // CF = bit 62 = 0, OF = 0
}

TEST_F(InsnShift, ShrByOneOverflowIsTheOriginalSign) {
  vm_.set_gpr(0, 0x8000'0003);
  ASSERT_EQ(run({0xd1, 0xe8}).kind, RunOutcome::Kind::kReachedStop);  // shr eax, 1
  EXPECT_EQ(vm_.gpr(0), 0x4000'0001u);
  EXPECT_EQ(status(), kFlagCf | kFlagOf);
}

TEST_F(InsnShift, RolOfAhKeepsTheOtherBytesAndFlags) {
  vm_.set_gpr(0, 0x1111'1234);
  ASSERT_EQ(run({0xc0, 0xc4, 0x04}, 0x2 | kFlagZf | kFlagSf).kind,  // rol ah, 4
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(0), 0x1111'2134u);
  EXPECT_EQ(status() & (kFlagZf | kFlagSf | kFlagCf), kFlagZf | kFlagSf | kFlagCf);  // CF = LSB
}

TEST_F(InsnShift, RorOfR9wByCl) {
  vm_.set_gpr(9, 0xffff'ffff'ffff'0001);
  vm_.set_gpr(1, 1);
  ASSERT_EQ(run({0x66, 0x41, 0xd3, 0xc9}).kind, RunOutcome::Kind::kReachedStop);  // ror r9w, cl
  EXPECT_EQ(vm_.gpr(9), 0xffff'ffff'ffff'8000u);
  EXPECT_EQ(status() & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
}

TEST_F(InsnShift, RclRotatesThroughCarry) {
  vm_.set_gpr(0, 0x80);
  ASSERT_EQ(run({0xd0, 0xd0}, 0x2 | kFlagCf).kind, RunOutcome::Kind::kReachedStop);  // rcl al, 1
  EXPECT_EQ(vm_.gpr(0), 0x01u);
  EXPECT_EQ(status() & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
}

TEST_F(InsnShift, RclOfAByteByNineIsTheIdentity) {
  vm_.set_gpr(0, 0x5a);
  vm_.set_gpr(1, 9);  // 9 mod (8 + 1) = 0
  ASSERT_EQ(run({0xd2, 0xd0}, 0x2 | kFlagOf).kind, RunOutcome::Kind::kReachedStop);  // rcl al, cl
  EXPECT_EQ(vm_.gpr(0), 0x5au);
  EXPECT_EQ(status(), kFlagOf);
}

TEST_F(InsnShift, Rcr64ByOne) {
  vm_.set_gpr(0, 0x3);
  ASSERT_EQ(run({0x48, 0xd1, 0xd8}).kind, RunOutcome::Kind::kReachedStop);  // rcr rax, 1
  EXPECT_EQ(vm_.gpr(0), 1u);
  EXPECT_EQ(status() & (kFlagCf | kFlagOf), kFlagCf);
}

TEST_F(InsnShift, ShldAndShrd) {
  vm_.set_gpr(0, 0x1234'5678);
  vm_.set_gpr(3, 0x9abc'def0);
  ASSERT_EQ(run({0x0f, 0xa4, 0xd8, 0x04}).kind, RunOutcome::Kind::kReachedStop);  // shld eax, ebx, 4
  EXPECT_EQ(vm_.gpr(0), 0x2345'6789u);
  EXPECT_EQ(status() & kFlagCf, kFlagCf);

  vm_.set_gpr(0, 0x1122'3344'5566'7788);
  vm_.set_gpr(3, 0xaabb'ccdd'eeff'0099);
  vm_.set_gpr(1, 8 + 64);  // masked to 8
  ASSERT_EQ(run({0x48, 0x0f, 0xad, 0xd8}).kind, RunOutcome::Kind::kReachedStop);  // shrd rax, rbx, cl
  EXPECT_EQ(vm_.gpr(0), 0x9911'2233'4455'6677u);
  EXPECT_EQ(status() & (kFlagCf | kFlagSf), kFlagCf | kFlagSf);
}

TEST_F(InsnShift, ShldMemoryByCl) {
  const uint32_t value = 0x8000'0001;
  vm_.write(kData, &value, 4);
  vm_.set_gpr(3, kData);
  vm_.set_gpr(1, 0xff01);  // cl = 1
  vm_.set_gpr(0, 0);
  ASSERT_EQ(run({0x0f, 0xa5, 0x0b}).kind, RunOutcome::Kind::kReachedStop);  // shld [rbx], ecx, cl
  uint32_t out = 0;
  vm_.read(kData, &out, 4);
  EXPECT_EQ(out, 0x0000'0002u);  // the top bit of ecx (0) shifts in
  EXPECT_EQ(status() & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
}

TEST_F(InsnShift, FaultingMemoryShiftChangesNothing) {
  vm_.set_gpr(3, kReadOnly);
  const uint64_t flags = 0x2 | kFlagZf | kFlagOf;
  const RunOutcome out = run({0xd1, 0x23}, flags);  // shl dword [rbx], 1
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(vm_.rip(), kCode);
  EXPECT_EQ(vm_.rflags() & kStatus, flags & kStatus);
}

}  // namespace
}  // namespace densevm::testing
