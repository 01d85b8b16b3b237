// Bit instructions in FlatVm: BT* register and memory forms (including signed register
// offsets that address outside the operand), BSF/BSR of zero, the TZCNT encoding (REP BSF), LZCNT/POPCNT, XLAT.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpu_state.h"

namespace densevm::testing {
namespace {

using cpu::kFlagCf;
using cpu::kFlagZf;

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000;
constexpr uint64_t kTable = kData + 0x800;  // memory operands point here; both sides mapped

class InsnBit : public ::testing::Test {
 protected:
  InsnBit() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  }
  RunOutcome run(const std::vector<uint8_t>& code, uint64_t flags = 0x2) {
    vm_.set_rflags(flags);
    return vm_.run_code(kCode, code, 100);
  }
  uint64_t load64(uint64_t va) const {
    uint64_t v = 0;
    vm_.read(va, &v, 8);
    return v;
  }
  void store64(uint64_t va, uint64_t v) { vm_.write(va, &v, 8); }
  bool cf() const { return vm_.rflags() & kFlagCf; }
  bool zf() const { return vm_.rflags() & kFlagZf; }

  FlatVm vm_;
};

TEST_F(InsnBit, BtImmediateAndRegisterOffsetsWrapInARegister) {
  vm_.set_gpr(0, 0x20);
  ASSERT_EQ(run({0x0f, 0xba, 0xe0, 0x05}, 0x2 | kFlagZf).kind,  // bt eax, 5
            RunOutcome::Kind::kReachedStop);
  EXPECT_TRUE(cf());
  EXPECT_TRUE(zf()) << "BT leaves ZF alone";

  vm_.set_gpr(1, 37);  // 37 mod 32 = 5
  ASSERT_EQ(run({0x0f, 0xa3, 0xc8}).kind, RunOutcome::Kind::kReachedStop);  // bt eax, ecx
  EXPECT_TRUE(cf());
}

TEST_F(InsnBit, BtsWithNegativeOffsetWritesBelowTheOperand) {
  store64(kTable - 8, 0);
  store64(kTable, 0);
  vm_.set_gpr(3, kTable);
  vm_.set_gpr(1, ~uint64_t{0});  // bit -1: bit 63 of the qword below
  ASSERT_EQ(run({0x48, 0x0f, 0xab, 0x0b}).kind, RunOutcome::Kind::kReachedStop);  // bts [rbx], rcx
  EXPECT_FALSE(cf());
  EXPECT_EQ(load64(kTable - 8), uint64_t{1} << 63);
  EXPECT_EQ(load64(kTable), 0u);
}

TEST_F(InsnBit, BtrWordWithNegativeOffset) {
  store64(kTable - 8, ~uint64_t{0});
  vm_.set_gpr(3, kTable);
  vm_.set_gpr(1, 0xffff'ffff'ffff'ffef);  // cx = -17: word -2 (rbx-4), bit 15
  ASSERT_EQ(run({0x66, 0x0f, 0xb3, 0x0b}).kind, RunOutcome::Kind::kReachedStop);  // btr [rbx], cx
  EXPECT_TRUE(cf());
  EXPECT_EQ(load64(kTable - 8), 0xffff'7fff'ffff'ffffu);  // word at rbx-4, bit 15
}

TEST_F(InsnBit, BtWithLargePositiveOffsetReadsBeyondTheOperand) {
  store64(kTable + 8, 0x10'0000'0000);  // bit 100 from kTable: dword 3, bit 4
  vm_.set_gpr(3, kTable);
  vm_.set_gpr(0, 100);
  ASSERT_EQ(run({0x0f, 0xa3, 0x03}).kind, RunOutcome::Kind::kReachedStop);  // bt [rbx], eax
  EXPECT_TRUE(cf());
}

TEST_F(InsnBit, BtcMemoryImmediateStaysInTheOperand) {
  store64(kTable, 0);
  vm_.set_gpr(3, kTable);
  ASSERT_EQ(run({0x0f, 0xba, 0x3b, 0x23}, 0x2 | kFlagCf).kind,  // btc dword [rbx], 35
            RunOutcome::Kind::kReachedStop);
  EXPECT_FALSE(cf());
  EXPECT_EQ(load64(kTable), 0x8u);  // bit 35 mod 32 = 3
}

TEST_F(InsnBit, BtsOutsideMappedMemoryFaultsWithoutChangingFlags) {
  vm_.set_gpr(3, kData);
  vm_.set_gpr(1, static_cast<uint64_t>(-1000));  // far below the mapped page
  const RunOutcome out = run({0x48, 0x0f, 0xab, 0x0b}, 0x2 | kFlagCf);  // bts [rbx], rcx
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(out.cr2, kData - 128);
  EXPECT_TRUE(cf());
}

TEST_F(InsnBit, BsfOfZeroSetsZfAndKeepsTheDestination) {
  vm_.set_gpr(0, 0xdead'beef'1234'5678);
  vm_.set_gpr(3, 0);
  ASSERT_EQ(run({0x0f, 0xbc, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // bsf eax, ebx
  EXPECT_TRUE(zf());
  EXPECT_EQ(vm_.gpr(0), 0xdead'beef'1234'5678u);

  vm_.set_gpr(3, 0x8000'0000'0000'0100);
  ASSERT_EQ(run({0x48, 0x0f, 0xbd, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // bsr rax, rbx
  EXPECT_FALSE(zf());
  EXPECT_EQ(vm_.gpr(0), 63u);
}

// CPUID reports no BMI1: the TZCNT encoding is REP BSF, whose REP prefix is ignored.
TEST_F(InsnBit, TzcntEncodingIsBsfWithoutBmi1) {
  vm_.set_gpr(0, 0xdead'beef'1234'5678);
  vm_.set_gpr(3, 0);
  ASSERT_EQ(run({0xf3, 0x0f, 0xbc, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // rep bsf eax, ebx
  EXPECT_EQ(vm_.gpr(0), 0xdead'beef'1234'5678u);  // destination unchanged, as BSF of 0
  EXPECT_TRUE(zf());
  vm_.set_gpr(3, 0x40);
  ASSERT_EQ(run({0xf3, 0x0f, 0xbc, 0xc3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(0), 6u);
  EXPECT_FALSE(zf());
}

TEST_F(InsnBit, LzcntOfZeroGivesTheWidth) {
  vm_.set_gpr(3, 0);
  ASSERT_EQ(run({0xf3, 0x0f, 0xbd, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // lzcnt eax, ebx
  EXPECT_EQ(vm_.gpr(0), 32u);
  EXPECT_TRUE(cf());
  EXPECT_FALSE(zf());

  vm_.set_gpr(0, 0xffff'0000);
  vm_.set_gpr(3, 1);
  ASSERT_EQ(run({0x66, 0xf3, 0x0f, 0xbd, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // lzcnt ax, bx
  EXPECT_EQ(vm_.gpr(0), 0xffff'000fu);
  EXPECT_FALSE(cf());

  vm_.set_gpr(3, 0x8000'0000);
  ASSERT_EQ(run({0xf3, 0x0f, 0xbd, 0xc3}).kind, RunOutcome::Kind::kReachedStop);  // lzcnt eax, ebx
  EXPECT_EQ(vm_.gpr(0), 0u);
  EXPECT_TRUE(zf());
}

TEST_F(InsnBit, PopcntClearsFlagsButZf) {
  vm_.set_gpr(3, 0xf0f0'0001);
  ASSERT_EQ(run({0xf3, 0x0f, 0xb8, 0xc3}, 0x2 | 0x8d5).kind,  // popcnt eax, ebx
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(0), 9u);
  EXPECT_EQ(vm_.rflags() & 0x8d5, 0u);

  vm_.set_gpr(3, 0);
  ASSERT_EQ(run({0xf3, 0x0f, 0xb8, 0xc3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.rflags() & 0x8d5, kFlagZf);
}

TEST_F(InsnBit, XlatLooksUpAl) {
  const uint8_t table[8] = {10, 11, 12, 13, 14, 15, 16, 17};
  vm_.write(kTable, table, sizeof table);
  vm_.set_gpr(3, kTable);
  vm_.set_gpr(0, 0x1234'5605);
  ASSERT_EQ(run({0xd7}).kind, RunOutcome::Kind::kReachedStop);  // xlat
  EXPECT_EQ(vm_.gpr(0), 0x1234'560fu);
}

}  // namespace
}  // namespace densevm::testing
