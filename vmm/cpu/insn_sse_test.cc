// SSE/SSE2 on a FlatVm: what the differential tests cannot reach from Linux user mode (CR0
// and CR4 conditions, #XM versus #UD) and the SDM's fixed answers for a few edges.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpuid.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

using testing::FlatVm;
using testing::RunOutcome;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = 0x10000, kData = 0x30000;

class SseTest : public ::testing::Test {
 protected:
  SseTest() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, 0x2000, FlatVm::kRead | FlatVm::kWrite);
    vm_.set_gpr(kRax, kData);
  }
  CpuState& state() { return vm_.vcpu().state(); }
  Xmm& xmm(unsigned i) { return state().fpu.xmm[i]; }

  RunOutcome run(const Bytes& code) {
    return vm_.run_code(kCode, code, 100);
  }
  void expect_fault(const RunOutcome& out, uint8_t vector) {
    EXPECT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, vector);
    EXPECT_EQ(vm_.rip(), kCode) << "a faulting instruction does not retire";
  }

  FlatVm vm_;
};

Xmm singles(float a, float b, float c, float d) {
  Xmm x;
  x.set_lane<float>(0, a);
  x.set_lane<float>(1, b);
  x.set_lane<float>(2, c);
  x.set_lane<float>(3, d);
  return x;
}

Xmm doubles(double a, double b) {
  Xmm x;
  x.set_lane<double>(0, a);
  x.set_lane<double>(1, b);
  return x;
}

const Bytes kPxor = {0x66, 0x0f, 0xef, 0xc1};  // pxor xmm0, xmm1

TEST_F(SseTest, PxorComputes) {
  xmm(0) = Xmm{0xff00ff00ff00ff00, 0x1234};
  xmm(1) = Xmm{0x0ff00ff00ff00ff0, 0x1234};
  ASSERT_EQ(run(kPxor).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(xmm(0), (Xmm{0xf0f0f0f0f0f0f0f0, 0}));
}

// SDM Vol 2A §2.5.1: #UD without OSFXSR or with EM, before #NM for TS.
TEST_F(SseTest, UnavailableSseIsUdThenNm) {
  xmm(0) = Xmm{1, 2};
  state().cr4 &= ~kCr4Osfxsr;
  state().cr0 |= cr0::kTs;
  expect_fault(run(kPxor), kVecUd);
  state().cr4 |= kCr4Osfxsr;
  state().cr0 |= cr0::kEm;
  expect_fault(run(kPxor), kVecUd);
  state().cr0 &= ~cr0::kEm;
  expect_fault(run(kPxor), kVecNm);
  EXPECT_EQ(xmm(0), (Xmm{1, 2}));
  // MOVNTI is a GPR store: no CR0/CR4 condition applies.
  vm_.set_gpr(kRcx, 0x1122334455667788);
  ASSERT_EQ(run({0x48, 0x0f, 0xc3, 0x08}).kind, RunOutcome::Kind::kReachedStop);  // movnti [rax], rcx
  uint64_t stored = 0;
  vm_.read(kData, &stored, 8);
  EXPECT_EQ(stored, 0x1122334455667788u);
}

TEST_F(SseTest, MisalignedMovdqaIsGpAndMovdquIsNot) {
  const uint8_t bytes[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  vm_.write(kData + 8, bytes, 16);
  vm_.set_gpr(kRax, kData + 8);
  expect_fault(run({0x66, 0x0f, 0x6f, 0x00}), kVecGp);  // movdqa xmm0, [rax]
  EXPECT_EQ(vm_.vcpu().last_exception().error_code, 0u);
  ASSERT_EQ(run({0xf3, 0x0f, 0x6f, 0x00}).kind, RunOutcome::Kind::kReachedStop);  // movdqu
  EXPECT_EQ(std::memcmp(&xmm(0), bytes, 16), 0);
}

TEST_F(SseTest, LdmxcsrRefusesReservedBits) {
  const uint32_t good = 0x7f80 | kMxcsrDaz, bad = 0x1f80 | 1u << 16;
  vm_.write(kData, &good, 4);
  vm_.write(kData + 4, &bad, 4);
  // ldmxcsr [rax]; stmxcsr [rax+8]
  ASSERT_EQ(run({0x0f, 0xae, 0x10, 0x0f, 0xae, 0x58, 0x08}).kind, RunOutcome::Kind::kReachedStop);
  uint32_t back = 0;
  vm_.read(kData + 8, &back, 4);
  EXPECT_EQ(back, good);
  expect_fault(run({0x0f, 0xae, 0x50, 0x04}), kVecGp);  // ldmxcsr [rax+4]
  EXPECT_EQ(state().fpu.mxcsr, good);
}

// SDM Vol 1 §11.5.3.2: an unmasked SIMD exception is #XM with CR4.OSXMMEXCPT, else #UD;
// the flag is set, the destination left alone.
TEST_F(SseTest, UnmaskedZeroDivideIsXmOrUd) {
  for (bool osxmmexcpt : {true, false}) {
    if (!osxmmexcpt) state().cr4 &= ~kCr4Osxmmexcpt;
    state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrZe << kMxcsrMaskShift);
    xmm(0) = singles(1, 2, 3, 4);
    xmm(1) = singles(0, 1, 1, 1);
    expect_fault(run({0xf3, 0x0f, 0x5e, 0xc1}), osxmmexcpt ? kVecXm : kVecUd);  // divss xmm0, xmm1
    EXPECT_EQ(xmm(0), singles(1, 2, 3, 4));
    EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrZe);
  }
}

// An unmasked pre-computation exception reports only the pre-computation flags; otherwise
// every flag the lanes raised is set (SDM Vol 1 §11.5.3.3).
TEST_F(SseTest, PackedLanesCombineTheirFlags) {
  xmm(0) = singles(1, 1, 1, 1);
  xmm(1) = singles(0, 3, 1, 1);  // lane 0: 1/0 (ZE), lane 1: 1/3 (PE)
  state().fpu.mxcsr = kMxcsrReset;
  ASSERT_EQ(run({0x0f, 0x5e, 0xc1}).kind, RunOutcome::Kind::kReachedStop);  // divps xmm0, xmm1
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrZe | kMxcsrPe);
  EXPECT_TRUE(std::isinf(xmm(0).lane<float>(0)));

  xmm(0) = singles(1, 1, 1, 1);
  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrZe << kMxcsrMaskShift);
  expect_fault(run({0x0f, 0x5e, 0xc1}), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrZe) << "no post-computation flag";

  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrPe << kMxcsrMaskShift);
  expect_fault(run({0x0f, 0x5e, 0xc1}), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrZe | kMxcsrPe) << "all flags";
  EXPECT_EQ(xmm(0), singles(1, 1, 1, 1));
}

// With UE unmasked, an exact tiny result underflows too (SDM Vol 1 §4.9.1.5); with OE
// unmasked, PE says whether the unbounded rounding was inexact.
TEST_F(SseTest, UnmaskedUnderflowAndOverflowUseTheUnboundedResult) {
  const Bytes mulsd = {0xf2, 0x0f, 0x59, 0xc1};  // mulsd xmm0, xmm1
  const double tiny = std::ldexp(1.0, -515);
  xmm(0) = doubles(tiny, 0);
  xmm(1) = doubles(tiny, 0);
  state().fpu.mxcsr = kMxcsrReset;
  ASSERT_EQ(run(mulsd).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(xmm(0).lane<double>(0), std::ldexp(1.0, -1030)) << "exact denormal";
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, 0u) << "masked: exact tiny is no underflow";

  xmm(0) = doubles(tiny, 0);
  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrUe << kMxcsrMaskShift);
  expect_fault(run(mulsd), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrUe);

  xmm(0) = doubles(std::ldexp(1.0, 1000), 0);
  xmm(1) = doubles(std::ldexp(1.0, 100), 0);
  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrOe << kMxcsrMaskShift);
  expect_fault(run(mulsd), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrOe) << "2^1100 is exact: no PE";

  xmm(1) = doubles(std::ldexp(1.0, 100) * 3, 0);
  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrOe << kMxcsrMaskShift);
  expect_fault(run(mulsd), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrOe) << "3 * 2^1100 is exact too";

  xmm(0) = doubles(3 * std::ldexp(1.0, 1000), 0);
  xmm(1) = doubles(1.0 / 3 * std::ldexp(1.0, 100), 0);  // 3 x (1/3 to 53 bits): 54 bits
  state().fpu.mxcsr = kMxcsrReset & ~(kMxcsrOe << kMxcsrMaskShift);
  expect_fault(run(mulsd), kVecXm);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrOe | kMxcsrPe);
}

TEST_F(SseTest, RoundingModeAndConversionIndefinite) {
  xmm(1) = doubles(2.5, 0);
  const Bytes cvtsd2si = {0xf2, 0x48, 0x0f, 0x2d, 0xc1};  // cvtsd2si rax, xmm1
  const uint64_t want[4] = {2, 2, 3, 2};                  // nearest-even, down, up, zero
  for (uint32_t rc = 0; rc < 4; ++rc) {
    state().fpu.mxcsr = kMxcsrReset | rc << 13;
    ASSERT_EQ(run(cvtsd2si).kind, RunOutcome::Kind::kReachedStop);
    EXPECT_EQ(vm_.gpr(kRax), want[rc]) << rc;
  }
  xmm(1) = doubles(1e300, 0);
  state().fpu.mxcsr = kMxcsrReset;
  ASSERT_EQ(run(cvtsd2si).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm_.gpr(kRax), 0x8000000000000000u) << "the integer indefinite";
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrIe);
}

TEST_F(SseTest, ComisdSetsZfPfCfAndClearsTheRest) {
  xmm(0) = doubles(std::nan(""), 0);
  xmm(1) = doubles(1, 0);
  vm_.set_rflags(0x2 | kFlagOf | kFlagSf | kFlagAf);
  ASSERT_EQ(run({0x66, 0x0f, 0x2e, 0xc1}).kind, RunOutcome::Kind::kReachedStop);  // ucomisd
  EXPECT_EQ(vm_.rflags() & kFlagsArith, kFlagZf | kFlagPf | kFlagCf);
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, 0u) << "UCOMISD is quiet on a QNaN";
  ASSERT_EQ(run({0x66, 0x0f, 0x2f, 0xc1}).kind, RunOutcome::Kind::kReachedStop);  // comisd
  EXPECT_EQ(state().fpu.mxcsr & kMxcsrFlags, kMxcsrIe);
}

// MOVSD and CMPSD name both an SSE2 instruction and a string instruction.
TEST_F(SseTest, MovsdAndCmpsdStillWorkAsStrings) {
  const uint32_t words[2] = {0xaabbccdd, 0x11223344};
  vm_.write(kData, words, 8);
  vm_.set_gpr(kRsi, kData);
  vm_.set_gpr(kRdi, kData + 0x100);
  vm_.set_gpr(kRcx, 2);
  ASSERT_EQ(run({0xf3, 0xa5}).kind, RunOutcome::Kind::kReachedStop);  // rep movsd
  uint32_t copied[2] = {};
  vm_.read(kData + 0x100, copied, 8);
  EXPECT_EQ(copied[1], 0x11223344u);
  xmm(0) = Xmm{1, 2};
  xmm(1) = Xmm{3, 4};
  ASSERT_EQ(run({0xf2, 0x0f, 0x10, 0xc1}).kind, RunOutcome::Kind::kReachedStop);  // movsd xmm0, xmm1
  EXPECT_EQ(xmm(0), (Xmm{3, 2}));
  xmm(0) = doubles(1, 5);
  xmm(1) = doubles(1, 6);
  ASSERT_EQ(run({0xf2, 0x0f, 0xc2, 0xc1, 0x00}).kind, RunOutcome::Kind::kReachedStop);  // cmpeqsd
  EXPECT_EQ(xmm(0).lo, ~uint64_t{0});
  EXPECT_EQ(xmm(0).lane<double>(1), 5.0);
}

TEST_F(SseTest, MaskmovdquWritesOnlySelectedBytes) {
  const Bytes ones(16, 0xee);
  vm_.write(kData, ones.data(), 16);
  vm_.set_gpr(kRdi, kData);
  xmm(0) = Xmm{0x0706050403020100, 0x0f0e0d0c0b0a0908};
  xmm(1) = Xmm{0x00000000000080ff, 0x8000000000000000};  // bytes 0, 1 and 15
  ASSERT_EQ(run({0x66, 0x0f, 0xf7, 0xc1}).kind, RunOutcome::Kind::kReachedStop);
  uint8_t out[16];
  vm_.read(kData, out, 16);
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 0x01);
  EXPECT_EQ(out[2], 0xee);
  EXPECT_EQ(out[14], 0xee);
  EXPECT_EQ(out[15], 0x0f);
}

// A 16-byte access across a page boundary faults on the second page before writing any.
TEST_F(SseTest, StraddlingStoreIsAllOrNothing) {
  const uint64_t end = kData + 0x2000;
  vm_.set_gpr(kRax, end - 8);
  const Bytes before(8, 0x55);
  vm_.write(end - 8, before.data(), 8);
  xmm(0) = Xmm{~uint64_t{0}, ~uint64_t{0}};
  expect_fault(run({0xf3, 0x0f, 0x7f, 0x00}), kVecPf);  // movdqu [rax], xmm0
  EXPECT_EQ(state().cr2, end);
  uint8_t after[8];
  vm_.read(end - 8, after, 8);
  EXPECT_EQ(std::memcmp(after, before.data(), 8), 0);
}

}  // namespace
}  // namespace densevm::cpu
