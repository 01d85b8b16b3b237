// MUL/IMUL/DIV/IDIV in FlatVm: widths, the high half and CF/OF, and #DE leaving every
// register and flag as it was.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpu_state.h"

namespace densevm::testing {
namespace {

using cpu::kFlagCf;
using cpu::kFlagOf;

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000;

class InsnMulDiv : public ::testing::Test {
 protected:
  InsnMulDiv() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  }
  RunOutcome run(const std::vector<uint8_t>& code, uint64_t flags = 0x2) {
    vm_.set_rflags(flags);
    return vm_.run_code(kCode, code, 100);
  }
  // Runs `code`, expects #DE at the instruction and no change to RAX, RDX or the flags.
  void expect_divide_error(const std::vector<uint8_t>& code) {
    const uint64_t rax = vm_.gpr(0), rdx = vm_.gpr(2), flags = 0x2 | kFlagCf | cpu::kFlagZf;
    const RunOutcome out = run(code, flags);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
    EXPECT_EQ(out.vector, cpu::kVecDe);
    EXPECT_EQ(vm_.rip(), kCode);
    EXPECT_EQ(vm_.gpr(0), rax);
    EXPECT_EQ(vm_.gpr(2), rdx);
    EXPECT_EQ(vm_.rflags(), flags);
  }
  bool carry_and_overflow() const {
    const uint64_t f = vm_.rflags() & (kFlagCf | kFlagOf);
    EXPECT_TRUE(f == 0 || f == (kFlagCf | kFlagOf)) << "CF and OF must agree";
    return f != 0;
  }

  FlatVm vm_;
};

TEST_F(InsnMulDiv, Mul64FillsRdx) {
  vm_.set_gpr(0, uint64_t{1} << 63);
  vm_.set_gpr(3, 4);
  ASSERT_EQ(run({0x48, 0xf7, 0xe3}).kind, RunOutcome::Kind::kReachedStop);  // mul rbx
  EXPECT_EQ(vm_.gpr(0), 0u);
  EXPECT_EQ(vm_.gpr(2), 2u);
  EXPECT_TRUE(carry_and_overflow());
}

TEST_F(InsnMulDiv, Mul8WritesAxOnly) {
  vm_.set_gpr(0, 0xffff'ffff'ffff'00c8);  // al = 200
  vm_.set_gpr(2, 0x5555);
  vm_.set_gpr(3, 2);
  ASSERT_EQ(run({0xf6, 0xe3}).kind, RunOutcome::Kind::kReachedStop);  // mul bl
  EXPECT_EQ(vm_.gpr(0), 0xffff'ffff'ffff'0190u);
  EXPECT_EQ(vm_.gpr(2), 0x5555u);
  EXPECT_TRUE(carry_and_overflow());
}

TEST_F(InsnMulDiv, MulByAh) {
  vm_.set_gpr(0, 0x0305);  // ah = 3, al = 5
  ASSERT_EQ(run({0xf6, 0xe4}).kind, RunOutcome::Kind::kReachedStop);  // mul ah
  EXPECT_EQ(vm_.gpr(0), 15u);
  EXPECT_FALSE(carry_and_overflow());
}

TEST_F(InsnMulDiv, Mul32ZeroExtendsBothHalves) {
  vm_.set_gpr(0, 0xdead'beef'8000'0000);
  vm_.set_gpr(2, 0xdead'beef'0000'0000);
  vm_.set_gpr(1, 2);
  ASSERT_EQ(run({0xf7, 0xe1}).kind, RunOutcome::Kind::kReachedStop);  // mul ecx
  EXPECT_EQ(vm_.gpr(0), 0u);
  EXPECT_EQ(vm_.gpr(2), 1u);
}

TEST_F(InsnMulDiv, OneOperandImulSignExtendsIntoRdx) {
  vm_.set_gpr(0, static_cast<uint64_t>(-3));
  vm_.set_gpr(3, 5);
  ASSERT_EQ(run({0x48, 0xf7, 0xeb}).kind, RunOutcome::Kind::kReachedStop);  // imul rbx
  EXPECT_EQ(vm_.gpr(0), static_cast<uint64_t>(-15));
  EXPECT_EQ(vm_.gpr(2), ~uint64_t{0});
  EXPECT_FALSE(carry_and_overflow());
}

TEST_F(InsnMulDiv, TwoOperandImulOverflow) {
  vm_.set_gpr(0, uint64_t{1} << 62);
  vm_.set_gpr(3, 2);
  ASSERT_EQ(run({0x48, 0x0f, 0xaf, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // imul rax, rbx
  EXPECT_EQ(vm_.gpr(0), uint64_t{1} << 63);
  EXPECT_TRUE(carry_and_overflow());
}

TEST_F(InsnMulDiv, ThreeOperandImulWithNegativeImmediate) {
  vm_.set_gpr(0, 0xffff'ffff'ffff'ffff);
  vm_.set_gpr(3, 7);
  ASSERT_EQ(run({0x6b, 0xc3, 0xfb}).kind, RunOutcome::Kind::kReachedStop);  // imul eax, ebx, -5
  EXPECT_EQ(vm_.gpr(0), 0xffff'ffddu);  // -35, zero-extended from 32 bits
  EXPECT_FALSE(carry_and_overflow());
}

TEST_F(InsnMulDiv, ThreeOperandImulFromMemory) {
  const uint16_t value = 0x10;
  vm_.write(kData, &value, 2);
  vm_.set_gpr(3, kData);
  vm_.set_gpr(0, 0xaaaa'0000);
  // imul ax, [rbx], 0x1234
  ASSERT_EQ(run({0x66, 0x69, 0x03, 0x34, 0x12}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(0), 0xaaaa'2340u);
  EXPECT_TRUE(carry_and_overflow());
}

TEST_F(InsnMulDiv, Div64) {
  vm_.set_gpr(2, 1);
  vm_.set_gpr(0, 5);
  vm_.set_gpr(3, 2);
  ASSERT_EQ(run({0x48, 0xf7, 0xf3}).kind, RunOutcome::Kind::kReachedStop);  // div rbx
  EXPECT_EQ(vm_.gpr(0), (uint64_t{1} << 63) + 2);
  EXPECT_EQ(vm_.gpr(2), 1u);
}

TEST_F(InsnMulDiv, Idiv8RoundsTowardZero) {
  vm_.set_gpr(0, 0x1234'fff9);  // ax = -7
  vm_.set_gpr(3, 2);
  ASSERT_EQ(run({0xf6, 0xfb}).kind, RunOutcome::Kind::kReachedStop);  // idiv bl
  EXPECT_EQ(vm_.gpr(0), 0x1234'fffdu);  // ah = -1 (remainder), al = -3
}

TEST_F(InsnMulDiv, DivideByZeroRaisesDe) {
  vm_.set_gpr(0, 10);
  vm_.set_gpr(2, 0);
  vm_.set_gpr(3, 0);
  expect_divide_error({0x48, 0xf7, 0xf3});  // div rbx
}

TEST_F(InsnMulDiv, QuotientOverflowRaisesDe) {
  vm_.set_gpr(2, 5);
  vm_.set_gpr(0, 0);
  vm_.set_gpr(3, 5);
  expect_divide_error({0x48, 0xf7, 0xf3});  // div rbx: quotient 2^64
}

TEST_F(InsnMulDiv, IntMinByMinusOneRaisesDe) {
  vm_.set_gpr(2, 0xffff'ffff);
  vm_.set_gpr(0, 0x8000'0000);
  vm_.set_gpr(3, 0xffff'ffff);
  expect_divide_error({0xf7, 0xfb});  // idiv ebx
}

TEST_F(InsnMulDiv, Int128MinByMinusOneRaisesDe) {
  vm_.set_gpr(2, uint64_t{1} << 63);
  vm_.set_gpr(0, 0);
  vm_.set_gpr(3, ~uint64_t{0});
  expect_divide_error({0x48, 0xf7, 0xfb});  // idiv rbx
}

TEST_F(InsnMulDiv, IdivByMinusOneThatFits) {
  vm_.set_gpr(2, ~uint64_t{0});
  vm_.set_gpr(0, static_cast<uint64_t>(-(int64_t{1} << 62)));
  vm_.set_gpr(3, ~uint64_t{0});
  ASSERT_EQ(run({0x48, 0xf7, 0xfb}).kind, RunOutcome::Kind::kReachedStop);  // idiv rbx
  EXPECT_EQ(vm_.gpr(0), uint64_t{1} << 62);
  EXPECT_EQ(vm_.gpr(2), 0u);
}

TEST_F(InsnMulDiv, DivFromUnmappedMemoryFaultsWithPf) {
  vm_.set_gpr(3, kData + 0x1000);
  const RunOutcome out = run({0x48, 0xf7, 0x33});  // div qword [rbx]
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(out.cr2, kData + 0x1000);
}

}  // namespace
}  // namespace densevm::testing
