// INS and OUTS (insn_string_io.cc) and the TSS I/O permission bitmap (io_permission.cc).
#include <gtest/gtest.h>

#include "tests/support/system_insn_fixture.h"

namespace densevm::cpu {
namespace {

TEST_F(SystemInsnTest, RepOutsbWritesEachByteInOrder) {
  make(0);
  const uint8_t text[4] = {'h', 'i', '!', '\n'};
  vm().write(kData, text, sizeof text);
  vm().set_gpr(kRsi, kData);
  vm().set_gpr(kRcx, 4);
  vm().set_gpr(kRdx, 0x3f8);
  const RunOutcome out = run({0xf3, 0x6e});  // rep outsb
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(out.instructions, 4u) << "one retired instruction per element";
  ASSERT_EQ(vm().port_writes().size(), 4u);
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_EQ(vm().port_writes()[i].port, 0x3f8);
    EXPECT_EQ(vm().port_writes()[i].value, text[i]);
  }
  EXPECT_EQ(vm().gpr(kRsi), kData + 4);
  EXPECT_EQ(vm().gpr(kRcx), 0u);
}

TEST_F(SystemInsnTest, InswAndInsdBackwardsWithDf) {
  make(0);
  vm().set_port_input(0x60, 0xcafef00d);
  vm().set_gpr(kRdi, kData + 0x100);
  vm().set_gpr(kRdx, 0x60);
  vm().set_gpr(kRcx, 2);
  vm().set_rflags(kFlagDf);
  // rep insd (backwards)
  ASSERT_EQ(run({0xf3, 0x6d}).kind, RunOutcome::Kind::kReachedStop);
  uint32_t got[2];
  vm().read(kData + 0xfc, got, sizeof got);
  EXPECT_EQ(got[0], 0xcafef00du);
  EXPECT_EQ(got[1], 0xcafef00du);
  EXPECT_EQ(vm().gpr(kRdi), kData + 0xf8);
  vm().set_rflags(0);
  ASSERT_EQ(run({0x66, 0x6d}).kind, RunOutcome::Kind::kReachedStop);  // insw
  uint16_t word;
  vm().read(kData + 0xf8, &word, 2);
  EXPECT_EQ(word, 0xf00d);
}

TEST_F(SystemInsnTest, InsbIntoAnUnmappedPageFaultsBeforeReadingThePort) {
  make(0);
  vm().set_gpr(kRdi, 0x900000);
  vm().set_gpr(kRdx, 0x60);
  const RunOutcome out = run({0x6c});
  EXPECT_EQ(out.vector, kVecPf);
  EXPECT_EQ(out.error_code & kPfWrite, kPfWrite);
  EXPECT_EQ(vm().gpr(kRdi), 0x900000u);
}

TEST_F(SystemInsnTest, RepOutsbFaultMidwayKeepsProgress) {
  make(0);
  vm().set_gpr(kRsi, kData + 0xffe);  // two bytes left on the page, then nothing mapped
  vm().set_gpr(kRcx, 5);
  vm().set_gpr(kRdx, 0x80);
  const RunOutcome out = run({0xf3, 0x6e}, 10);
  EXPECT_EQ(out.vector, kVecPf);
  EXPECT_EQ(vm().port_writes().size(), 2u);
  EXPECT_EQ(vm().gpr(kRcx), 3u);
  EXPECT_EQ(vm().gpr(kRsi), kData + 0x1000);
  EXPECT_EQ(vm().rip(), kCode) << "restartable";
}

// Ring 3 above IOPL: the TSS bitmap grants exactly the ports whose bits are 0, and both
// bytes the processor reads must lie within the TSS limit (SDM Vol 1 §19.5.2).
TEST_F(SystemInsnTest, IoBitmapGrantsSinglePortsToRing3) {
  make(3);
  vm().map(kTss, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  constexpr uint16_t kMapBase = 0x68;
  vm().write(kTss + 0x66, &kMapBase, 2);
  std::vector<uint8_t> map(0x2000 / 8 + 1, 0xff);  // ports 0-0x1fff, then the 0xff byte
  map[0x3f8 / 8] = static_cast<uint8_t>(~(1u << (0x3f8 % 8)));  // 0x3f8 only
  vm().write(kTss + kMapBase, map.data(), map.size());
  state().tss_base = kTss;
  state().tss_limit = kMapBase + static_cast<uint32_t>(map.size()) - 1;

  vm().set_gpr(kRdx, 0x3f8);
  vm().set_gpr(kRsi, kData);
  ASSERT_EQ(run({0xee}).kind, RunOutcome::Kind::kReachedStop);  // out dx, al
  ASSERT_EQ(run({0x6e}).kind, RunOutcome::Kind::kReachedStop);  // outsb
  EXPECT_EQ(vm().port_writes().size(), 2u);
  expect_gp(run({0x66, 0xef}));  // out dx, ax: 0x3f9 is not granted
  vm().set_gpr(kRdx, 0x3f9);
  expect_gp(run({0xee}));
  vm().set_gpr(kRdx, 0x3000);  // beyond the bitmap: outside the limit
  expect_gp(run({0xec}));
  state().tss_limit = 0x67;  // the map base at the limit: no bitmap at all
  vm().set_gpr(kRdx, 0x3f8);
  expect_gp(run({0xee}));
  EXPECT_EQ(vm().port_writes().size(), 2u);
}

TEST_F(SystemInsnTest, LtrCachesTheTssLimit) {
  make(0);
  vm().set_gpr(kRax, kTssSel);
  ASSERT_EQ(run({0x0f, 0x00, 0xd8}).kind, RunOutcome::Kind::kReachedStop);  // ltr ax
  EXPECT_EQ(state().tss_limit, 0x67u);
}

}  // namespace
}  // namespace densevm::cpu
