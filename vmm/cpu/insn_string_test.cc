// String instructions in FlatVm: REP with RCX=0, DF=1, overlapping and page-crossing REP
// MOVS, chunked long REP STOS, a fault in the middle of REP STOS, REPE/REPNE stops,
// 32-bit addressing and an FS source override.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpu_state.h"

namespace densevm::testing {
namespace {

using cpu::kFlagCf;
using cpu::kFlagDf;
using cpu::kFlagZf;

enum Reg : unsigned { kRax = 0, kRcx = 1, kRsi = 6, kRdi = 7 };

constexpr uint64_t kCode = 0x10000000;
constexpr uint64_t kData = 0x20000000, kDataSize = 0x40000;
constexpr uint64_t kDataEnd = kData + kDataSize;  // unmapped from here
constexpr uint64_t kAlias = kData + 0x100000;      // same soft-TLB slot as kData

class InsnString : public ::testing::Test {
 protected:
  InsnString() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, kDataSize, FlatVm::kRead | FlatVm::kWrite);
    vm_.map(kAlias, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  }
  RunOutcome run(const std::vector<uint8_t>& code, uint64_t flags = 0x2) {
    vm_.set_rflags(flags);
    return vm_.run_code(kCode, code, 1000);
  }
  std::vector<uint8_t> bytes(uint64_t va, size_t n) const {
    std::vector<uint8_t> out(n);
    vm_.read(va, out.data(), n);
    return out;
  }
  void fill_pattern(uint64_t va, size_t n) {
    std::vector<uint8_t> p(n);
    for (size_t i = 0; i < n; ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
    vm_.write(va, p.data(), n);
  }

  FlatVm vm_;
};

TEST_F(InsnString, RepMovsbCopiesForward) {
  fill_pattern(kData, 100);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 0x3000);
  vm_.set_gpr(kRcx, 100);
  ASSERT_EQ(run({0xf3, 0xa4}).kind, RunOutcome::Kind::kReachedStop);  // rep movsb
  EXPECT_EQ(bytes(kData + 0x3000, 100), bytes(kData, 100));
  EXPECT_EQ(vm_.gpr(kRsi), kData + 100);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x3000 + 100);
  EXPECT_EQ(vm_.gpr(kRcx), 0u);
}

TEST_F(InsnString, RepWithZeroCountChangesNothing) {
  fill_pattern(kData, 16);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 0x3000);
  vm_.set_gpr(kRcx, 0);
  const RunOutcome out = run({0xf3, 0xa4});  // rep movsb
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(out.instructions, 1u);
  EXPECT_EQ(vm_.gpr(kRsi), kData);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x3000);
  EXPECT_EQ(bytes(kData + 0x3000, 16), std::vector<uint8_t>(16, 0));

  // With 0x67 only ECX counts: the upper half is not a count, and is left alone.
  vm_.set_gpr(kRcx, 0xffff'ffff'0000'0000);
  ASSERT_EQ(run({0x67, 0xf3, 0xaa}).kind, RunOutcome::Kind::kReachedStop);  // rep stosb (a32)
  EXPECT_EQ(vm_.gpr(kRcx), 0xffff'ffff'0000'0000u);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x3000);
}

TEST_F(InsnString, RepStosqBackwardWithDf) {
  vm_.set_gpr(kRax, 0x1122'3344'5566'7788);
  vm_.set_gpr(kRdi, kData + 0x100);
  vm_.set_gpr(kRcx, 4);
  ASSERT_EQ(run({0xf3, 0x48, 0xab}, 0x2 | kFlagDf).kind, RunOutcome::Kind::kReachedStop);
  for (uint64_t off : {0xe8u, 0xf0u, 0xf8u, 0x100u}) {
    uint64_t v = 0;
    vm_.read(kData + off, &v, 8);
    EXPECT_EQ(v, 0x1122'3344'5566'7788u) << off;
  }
  EXPECT_EQ(bytes(kData + 0x108, 8), std::vector<uint8_t>(8, 0));
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x100 - 32);
  EXPECT_EQ(vm_.gpr(kRcx), 0u);
}

TEST_F(InsnString, OverlappingMovsbReplicatesTheFirstByte) {
  const uint8_t seed = 0xab;
  vm_.write(kData, &seed, 1);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 1);
  vm_.set_gpr(kRcx, 64);
  ASSERT_EQ(run({0xf3, 0xa4}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(bytes(kData, 65), std::vector<uint8_t>(65, 0xab));
}

TEST_F(InsnString, OverlappingMovsdIsElementByElement) {
  fill_pattern(kData, 64);
  std::vector<uint8_t> expected = bytes(kData, 64);
  for (size_t i = 0; i < 8; ++i) {
    uint32_t v;
    std::memcpy(&v, &expected[4 * i], 4);
    std::memcpy(&expected[2 + 4 * i], &v, 4);
  }
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 2);
  vm_.set_gpr(kRcx, 8);
  ASSERT_EQ(run({0xf3, 0xa5}).kind, RunOutcome::Kind::kReachedStop);  // rep movsd
  EXPECT_EQ(bytes(kData, 64), expected);
}

TEST_F(InsnString, PageCrossingRepMovsqMatchesACopy) {
  const uint64_t src = kData + 0x0ffd, dst = kData + 0x8ff9, n = 1000;
  fill_pattern(src, 8 * n);
  vm_.set_gpr(kRsi, src);
  vm_.set_gpr(kRdi, dst);
  vm_.set_gpr(kRcx, n);
  ASSERT_EQ(run({0xf3, 0x48, 0xa5}).kind, RunOutcome::Kind::kReachedStop);  // rep movsq
  EXPECT_EQ(bytes(dst, 8 * n), bytes(src, 8 * n));
  EXPECT_EQ(vm_.gpr(kRsi), src + 8 * n);
  EXPECT_EQ(vm_.gpr(kRdi), dst + 8 * n);
}

TEST_F(InsnString, MovsBetweenPagesSharingATlbSlot) {
  fill_pattern(kData, 0x1000);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kAlias);
  vm_.set_gpr(kRcx, 0x200);
  ASSERT_EQ(run({0xf3, 0x48, 0xa5}).kind, RunOutcome::Kind::kReachedStop);  // rep movsq
  EXPECT_EQ(bytes(kAlias, 0x1000), bytes(kData, 0x1000));
}

TEST_F(InsnString, LongRepStosRunsInChunksOfOneRetiredInstructionEach) {
  const uint64_t n = 200 * 1024;
  vm_.set_gpr(kRax, 0x5a);
  vm_.set_gpr(kRdi, kData + 0x100);
  vm_.set_gpr(kRcx, n);
  const RunOutcome out = run({0xf3, 0xaa});  // rep stosb
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(out.instructions, 4u);  // 64 KiB + 64 KiB + 64 KiB + 8 KiB
  EXPECT_EQ(vm_.gpr(kRcx), 0u);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x100 + n);
  EXPECT_EQ(bytes(kData + 0x100, n), std::vector<uint8_t>(n, 0x5a));
  EXPECT_EQ(bytes(kData + 0x100 + n, 1)[0], 0);
}

TEST_F(InsnString, FaultInTheMiddleOfRepStosIsRestartable) {
  vm_.set_gpr(kRax, 0x77);
  vm_.set_gpr(kRdi, kDataEnd - 16);
  vm_.set_gpr(kRcx, 100);
  const RunOutcome out = run({0xf3, 0xaa});  // rep stosb
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(out.cr2, kDataEnd);
  EXPECT_EQ(vm_.rip(), kCode);
  EXPECT_EQ(vm_.gpr(kRcx), 84u);
  EXPECT_EQ(vm_.gpr(kRdi), kDataEnd);
  EXPECT_EQ(bytes(kDataEnd - 16, 16), std::vector<uint8_t>(16, 0x77));
}

TEST_F(InsnString, FaultOnAnElementCrossingIntoAnUnmappedPage) {
  vm_.set_gpr(kRax, 0x01020304);
  vm_.set_gpr(kRdi, kDataEnd - 6);
  vm_.set_gpr(kRcx, 10);
  const RunOutcome out = run({0xf3, 0xab});  // rep stosd
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(vm_.gpr(kRcx), 9u);
  EXPECT_EQ(vm_.gpr(kRdi), kDataEnd - 2);
  EXPECT_EQ(bytes(kDataEnd - 6, 4), (std::vector<uint8_t>{4, 3, 2, 1}));
}

TEST_F(InsnString, RepeCmpsbStopsAfterTheFirstDifference) {
  const char a[] = "hello world", b[] = "hello wOrld";
  vm_.write(kData, a, 11);
  vm_.write(kData + 0x100, b, 11);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 0x100);
  vm_.set_gpr(kRcx, 11);
  ASSERT_EQ(run({0xf3, 0xa6}).kind, RunOutcome::Kind::kReachedStop);  // repe cmpsb
  EXPECT_EQ(vm_.gpr(kRcx), 3u);
  EXPECT_EQ(vm_.gpr(kRsi), kData + 8);
  EXPECT_EQ(vm_.rflags() & (kFlagZf | kFlagCf), 0u);  // 'o' > 'O'
}

TEST_F(InsnString, RepneScasbFindsTheTerminator) {
  const uint64_t at = kData + 0xffc;  // the string crosses a page boundary
  const char s[] = "abcdef";
  vm_.write(at, s, sizeof s);
  vm_.set_gpr(kRax, 0xffff'ff00);  // al = 0
  vm_.set_gpr(kRdi, at);
  vm_.set_gpr(kRcx, ~uint64_t{0});
  ASSERT_EQ(run({0xf2, 0xae}).kind, RunOutcome::Kind::kReachedStop);  // repne scasb
  EXPECT_EQ(vm_.gpr(kRcx), ~uint64_t{0} - 7);
  EXPECT_EQ(vm_.gpr(kRdi), at + 7);
  EXPECT_TRUE(vm_.rflags() & kFlagZf);
}

TEST_F(InsnString, RepeCmpsqAcrossPagesSharingATlbSlot) {
  fill_pattern(kData + 0xf00, 0x400);
  std::vector<uint8_t> other = bytes(kData + 0xf00, 0x400);
  other[0x321] ^= 1;  // element 100, on the second page
  vm_.write(kAlias + 0xf00, other.data(), 0x100);
  vm_.map(kAlias + 0x1000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  vm_.write(kAlias + 0x1000, other.data() + 0x100, 0x300);
  vm_.set_gpr(kRsi, kData + 0xf00);
  vm_.set_gpr(kRdi, kAlias + 0xf00);
  vm_.set_gpr(kRcx, 0x80);
  ASSERT_EQ(run({0xf3, 0x48, 0xa7}).kind, RunOutcome::Kind::kReachedStop);  // repe cmpsq
  EXPECT_EQ(vm_.gpr(kRcx), 0x80u - 101);
  EXPECT_EQ(vm_.gpr(kRsi), kData + 0xf00 + 8 * 101);
  EXPECT_EQ(vm_.gpr(kRdi), kAlias + 0xf00 + 8 * 101);
  EXPECT_FALSE(vm_.rflags() & kFlagZf);
}

TEST_F(InsnString, RepeCmpswEndedByTheCountLeavesZfSet) {
  fill_pattern(kData, 64);
  fill_pattern(kData + 0x800, 64);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 0x800);
  vm_.set_gpr(kRcx, 32);
  ASSERT_EQ(run({0x66, 0xf3, 0xa7}).kind, RunOutcome::Kind::kReachedStop);  // repe cmpsw
  EXPECT_EQ(vm_.gpr(kRcx), 0u);
  EXPECT_TRUE(vm_.rflags() & kFlagZf);
}

TEST_F(InsnString, LodsqBackward) {
  const uint64_t v = 0x0102'0304'0506'0708;
  vm_.write(kData + 0x40, &v, 8);
  vm_.set_gpr(kRsi, kData + 0x40);
  vm_.set_gpr(kRcx, 5);
  ASSERT_EQ(run({0x48, 0xad}, 0x2 | kFlagDf).kind, RunOutcome::Kind::kReachedStop);  // lodsq
  EXPECT_EQ(vm_.gpr(kRax), v);
  EXPECT_EQ(vm_.gpr(kRsi), kData + 0x38);
  EXPECT_EQ(vm_.gpr(kRcx), 5u) << "no REP: RCX is not a count";
}

TEST_F(InsnString, AddressSize32IgnoresAndClearsUpperHalves) {
  vm_.set_gpr(kRax, 0x5a);
  vm_.set_gpr(kRdi, 0xffff'ffff'0000'0000 | kData);
  vm_.set_gpr(kRcx, 0xffff'ffff'0000'0004);
  ASSERT_EQ(run({0x67, 0xf3, 0xaa}).kind, RunOutcome::Kind::kReachedStop);  // rep stosb (a32)
  EXPECT_EQ(vm_.gpr(kRdi), kData + 4);
  EXPECT_EQ(vm_.gpr(kRcx), 0u);
  EXPECT_EQ(bytes(kData, 5), (std::vector<uint8_t>{0x5a, 0x5a, 0x5a, 0x5a, 0}));
}

TEST_F(InsnString, FsOverrideAppliesToTheSourceOnly) {
  const uint8_t v = 0xc3;
  vm_.write(kData + 0x1010, &v, 1);
  vm_.set_fs_base(kData + 0x1000);
  vm_.set_gpr(kRsi, 0x10);
  vm_.set_gpr(kRdi, kData + 0x2000);
  ASSERT_EQ(run({0x64, 0xa4}).kind, RunOutcome::Kind::kReachedStop);  // movsb fs:[rsi]
  EXPECT_EQ(bytes(kData + 0x2000, 1)[0], 0xc3);
  EXPECT_EQ(vm_.gpr(kRsi), 0x11u);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 0x2001);
}

TEST_F(InsnString, ScaswComparesAxWithMemory) {
  const uint16_t v = 0x0102;
  vm_.write(kData, &v, 2);
  vm_.set_gpr(kRax, 0x0101);
  vm_.set_gpr(kRdi, kData);
  ASSERT_EQ(run({0x66, 0xaf}).kind, RunOutcome::Kind::kReachedStop);  // scasw
  EXPECT_EQ(vm_.rflags() & (kFlagZf | kFlagCf), kFlagCf);
  EXPECT_EQ(vm_.gpr(kRdi), kData + 2);
}

}  // namespace
}  // namespace densevm::testing
