// The taint of undefined values through a sequence: a result that depends on an undefined
// flag or register is masked, one computed after the value was redefined is still compared.
#include "tests/diff/taint.h"

#include <gtest/gtest.h>

#include <cstring>

#include "tests/diff/diff_check.h"

namespace densevm::diff {
namespace {

DiffCase make_case(std::vector<uint8_t> code) {
  DiffCase c;
  c.code = std::move(code);
  for (unsigned i = 0; i < kGprCount; ++i) c.in.gpr[i] = 0x0101010101010101 * (i + 1);
  c.in.gpr[kRsp] = kStackTop;
  c.in.gpr[kRdi] = kDataBase + 0x1000;
  c.in.gpr[kRsi] = 0x8000000000000000;
  return c;
}

uint64_t data_taint(const TaintState& t, uint32_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, &t.data[offset], 8);
  return v;
}

// rol si, 2 leaves OF undefined (SDM Vol. 2B ROL: OF is defined for a count of 1 only).
constexpr uint8_t kRolSi2[] = {0x66, 0xC1, 0xC6, 0x02};
constexpr uint8_t kSetnlCl[] = {0x0F, 0x9D, 0xC1};

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const std::vector<uint8_t> kRol(std::begin(kRolSi2), std::end(kRolSi2));
const std::vector<uint8_t> kSetnl(std::begin(kSetnlCl), std::end(kSetnlCl));

TEST(Taint, SetccOfAnUndefinedFlagTaintsOnlyTheBitItWrites) {
  const VmResult r = run_in_vm(make_case(concat({kRol, kSetnl})));
  ASSERT_EQ(r.outcome.kind, testing::RunOutcome::Kind::kReachedStop);
  EXPECT_TRUE(r.taint.control.empty()) << r.taint.control;
  EXPECT_EQ(r.taint.gpr[kRcx], 1u);
  EXPECT_EQ(r.taint.gpr[kRsi], 0u);
  EXPECT_EQ(r.taint.flags, kFlagOf);
}

TEST(Taint, AFlagRedefinedBeforeItIsReadIsCompared) {
  // add esi, 0 defines OF again before setnl reads it
  const VmResult r = run_in_vm(make_case(concat({kRol, {0x83, 0xC6, 0x00}, kSetnl})));
  EXPECT_EQ(r.taint.gpr[kRcx], 0u);
  EXPECT_EQ(r.taint.flags, 0u);
  EXPECT_FALSE(r.taint.any());
}

TEST(Taint, FollowsMovesAndDiesWhenOverwritten) {
  // seto al; movzx ebx, al; mov [rdi], rbx; mov edx, ebx; xor eax, eax
  const VmResult r = run_in_vm(make_case(concat(
      {kRol, {0x0F, 0x90, 0xC0, 0x0F, 0xB6, 0xD8, 0x48, 0x89, 0x1F, 0x89, 0xDA, 0x31, 0xC0}})));
  EXPECT_EQ(r.taint.gpr[kRax], 0u);  // xor eax, eax: zero whatever eax held
  EXPECT_EQ(r.taint.gpr[kRbx], 1u);
  EXPECT_EQ(r.taint.gpr[kRdx], 1u);
  EXPECT_EQ(data_taint(r.taint, 0x1000), 1u);
  EXPECT_EQ(data_taint(r.taint, 0x1008), 0u);
}

TEST(Taint, ArithmeticOnATaintedBitTaintsTheWholeResultAndItsFlags) {
  // setnl cl; add rdx, rcx; adc rbx, 0
  const VmResult r = run_in_vm(make_case(
      concat({kRol, kSetnl, {0x48, 0x01, 0xCA, 0x48, 0x83, 0xD3, 0x00}})));
  EXPECT_EQ(r.taint.gpr[kRdx], ~uint64_t{0});
  EXPECT_EQ(r.taint.gpr[kRbx], ~uint64_t{0});  // adc read the undefined CF of the add
  EXPECT_EQ(r.taint.flags & (kFlagCf | kFlagZf | kFlagOf), kFlagCf | kFlagZf | kFlagOf);
}

TEST(Taint, PushfAndLahfMoveFlagTaintBitForBit) {
  // imul rax, rbx (SF ZF AF PF undefined); pushfq; lahf
  const VmResult r = run_in_vm(make_case({0x48, 0x0F, 0xAF, 0xC3, 0x9C, 0x9F}));
  const uint64_t undefined = kFlagSf | kFlagZf | kFlagAf | kFlagPf;
  EXPECT_EQ(r.taint.flags, undefined);
  EXPECT_EQ(data_taint(r.taint, kStackTop - 8 - kDataBase), undefined);
  EXPECT_EQ(r.taint.gpr[kRax], undefined << 8);
}

TEST(Taint, LeaOfATaintedRegisterIsData) {
  // setnl cl; lea rax, [rdi+rcx]: the sum is undefined, but no memory is addressed
  const VmResult r = run_in_vm(make_case(concat({kRol, kSetnl, {0x48, 0x8D, 0x04, 0x0F}})));
  EXPECT_TRUE(r.taint.control.empty()) << r.taint.control;
  EXPECT_EQ(r.taint.gpr[kRax], ~uint64_t{0});
}

TEST(Taint, StosStoresTheAccumulatorTaint) {
  // seto al; cld; rep stosb with rcx = 3 at rdi
  DiffCase c = make_case(concat({kRol, {0x0F, 0x90, 0xC0, 0xFC, 0xF3, 0xAA}}));
  c.in.gpr[kRcx] = 3;
  const VmResult r = run_in_vm(c);
  EXPECT_TRUE(r.taint.control.empty()) << r.taint.control;
  EXPECT_EQ(data_taint(r.taint, 0x1000), 0x010101u);
}

TEST(Taint, BsfOfZeroLeavesItsDestinationUndefined) {
  DiffCase c = make_case({0x48, 0x0F, 0xBC, 0xC1});  // bsf rax, rcx
  c.in.gpr[kRcx] = 0;
  EXPECT_EQ(run_in_vm(c).taint.gpr[kRax], ~uint64_t{0});
  c.in.gpr[kRcx] = 8;
  EXPECT_EQ(run_in_vm(c).taint.gpr[kRax], 0u);
}

TEST(Taint, FlagsFollowTheLastWriter) {
  DiffCase c = make_case({0x48, 0xF7, 0xE1});  // mul rcx: SF ZF AF PF undefined
  EXPECT_EQ(compared_flags(c, run_in_vm(c).taint), kFlagCf | kFlagOf | kFlagDf);
  c.code.insert(c.code.end(), {0x48, 0x01, 0xD8});  // add rax, rbx redefines all of them
  EXPECT_EQ(compared_flags(c, run_in_vm(c).taint), kComparedFlags);
  c.code.insert(c.code.end(), {0x48, 0x0F, 0xA3, 0xC8});  // bt rax, rcx: only CF defined
  EXPECT_EQ(compared_flags(c, run_in_vm(c).taint), kFlagCf | kFlagZf | kFlagDf);
}

TEST(Taint, ShiftFlagsDependOnTheMaskedCount) {
  DiffCase c = make_case({0xD3, 0xC6});  // rol esi, cl
  c.in.gpr[kRcx] = 0x21;                 // masked count 1: OF defined
  EXPECT_EQ(run_in_vm(c).taint.flags, 0u);
  c.in.gpr[kRcx] = 0x20;                 // masked count 0: nothing changes
  EXPECT_EQ(run_in_vm(c).taint.flags, 0u);
  c.in.gpr[kRcx] = 3;
  EXPECT_EQ(run_in_vm(c).taint.flags, kFlagOf);
}

TEST(Taint, ABranchOnAnUndefinedFlagMakesTheCaseIncomparable) {
  // jo +0 after rol si, 2
  const VmResult r = run_in_vm(make_case(concat({kRol, {0x70, 0x00}})));
  EXPECT_NE(r.taint.control.find("branch"), std::string::npos) << r.taint.control;
  // the same jump after the flag was redefined is fine
  const VmResult ok = run_in_vm(make_case(concat({kRol, {0x83, 0xC6, 0x00, 0x70, 0x00}})));
  EXPECT_TRUE(ok.taint.control.empty()) << ok.taint.control;
}

TEST(Taint, AnAddressFromAnUndefinedValueMakesTheCaseIncomparable) {
  // setnl cl; mov al, [rdi+rcx]
  DiffCase c = make_case(concat({kRol, kSetnl, {0x8A, 0x04, 0x0F}}));
  c.in.gpr[kRcx] = 0;
  const VmResult r = run_in_vm(c);
  ASSERT_EQ(r.outcome.kind, testing::RunOutcome::Kind::kReachedStop);
  EXPECT_NE(r.taint.control.find("address"), std::string::npos) << r.taint.control;
}

// The check itself: a difference in an undefined bit passes, one in a defined bit fails.
TEST(Taint, CheckIgnoresOnlyTheUndefinedBits) {
  const DiffCase c = make_case(concat({kRol, kSetnl}));
  std::vector<NativeOutcome> native = run_native(std::span(&c, 1));
  ASSERT_EQ(native[0].kind, NativeOutcome::Kind::kCompleted) << describe(native[0]);
  EXPECT_EQ(check_case(c, native[0]), "");
  NativeOutcome other_choice = native[0];
  other_choice.regs.gpr[kRcx] ^= 1;  // the CPU chose the other value for OF
  other_choice.regs.rflags ^= kFlagOf;
  EXPECT_EQ(check_case(c, other_choice), "");
  NativeOutcome wrong = native[0];
  wrong.regs.gpr[kRcx] ^= 2;  // a bit setnl writes as zero
  EXPECT_NE(check_case(c, wrong), "");
  NativeOutcome wrong_flag = native[0];
  wrong_flag.regs.rflags ^= kFlagCf;  // rol defines CF
  EXPECT_NE(check_case(c, wrong_flag), "");
}

}  // namespace
}  // namespace densevm::diff
