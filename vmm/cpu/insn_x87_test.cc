// x87 on a FlatVm: availability (#NM), error delivery (#MF), the state images, and that
// replaying on the host leaves the host's own x87 and MXCSR as they were.
#include <gtest/gtest.h>
#include <xmmintrin.h>

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

class X87Test : public ::testing::Test {
 protected:
  X87Test() {
    vm_.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_.map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_.set_gpr(kRbx, kData);
  }
  CpuState& state() { return vm_.vcpu().state(); }
  FpuState& fpu() { return state().fpu; }

  RunOutcome run(const Bytes& code) {
    return vm_.run_code(kCode, code, 100);
  }
  void ok(const Bytes& code) {
    const RunOutcome out = run(code);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message << " vector " << int(out.vector);
  }
  void expect_fault(const RunOutcome& out, uint8_t vector, uint64_t rip = kCode) {
    EXPECT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, vector);
    EXPECT_EQ(vm_.rip(), rip);
  }
  template <class T>
  T data(uint64_t offset) {
    T v;
    vm_.read(kData + offset, &v, sizeof v);
    return v;
  }
  template <class T>
  void set_data(uint64_t offset, T v) { vm_.write(kData + offset, &v, sizeof v); }

  FlatVm vm_;
};

const Bytes kFld1 = {0xd9, 0xe8};
const Bytes kFwait = {0x9b};

TEST_F(X87Test, LoadsComputesAndStores) {
  set_data<double>(0, 1.5);
  set_data<double>(8, 4.0);
  // fld qword [rbx]; fmul qword [rbx+8]; fld1; faddp; fstp qword [rbx+16]
  ok({0xdd, 0x03, 0xdc, 0x4b, 0x08, 0xd9, 0xe8, 0xde, 0xc1, 0xdd, 0x5b, 0x10});
  EXPECT_EQ(data<double>(16), 7.0);
  EXPECT_EQ(fpu().ftw, 0) << "the stack is empty again";
  EXPECT_EQ((fpu().fsw & kFswTop) >> 11, 0u);
  EXPECT_EQ(fpu().fop, 0x55b) << "FSTP m64: DD /3 with ModRM 5B";
  EXPECT_EQ(fpu().fip, kCode + 9);
  EXPECT_EQ(fpu().fdp, kData + 16);
}

// The kernel's FDIV check (arch/x86/kernel/fpu/bugs.c): x - (x / y) * y is 0.
TEST_F(X87Test, KernelFdivCheckFindsNoBug) {
  set_data<double>(0, 4195835.0);
  set_data<double>(8, 3145727.0);
  set_data<uint32_t>(16, 0xdead);
  ok({0xdb, 0xe3, 0xdd, 0x03, 0xdc, 0x73, 0x08, 0xdc, 0x4b, 0x08, 0xdd, 0x03, 0xde, 0xe9, 0xdb,
      0x5b, 0x10});
  EXPECT_EQ(data<uint32_t>(16), 0u);
}

// SDM Vol 3A Table 2-2: EM or TS is #NM for x87; FWAIT only with MP and TS.
TEST_F(X87Test, UnavailableIsNm) {
  state().cr0 |= cr0::kEm;
  expect_fault(run(kFld1), kVecNm);
  state().cr0 &= ~cr0::kEm;
  state().cr0 |= cr0::kTs;
  expect_fault(run(kFld1), kVecNm);
  expect_fault(run(kFwait), kVecNm);
  state().cr0 &= ~cr0::kMp;
  ok(kFwait);
  EXPECT_EQ(fpu().ftw, 0) << "FLD1 never ran";
}

// An unmasked error sets ES; the next waiting instruction raises #MF, non-waiting ones run.
TEST_F(X87Test, UnmaskedErrorIsMfAtTheNextWaitingInstruction) {
  set_data<uint16_t>(0, kFcwInit & ~kMxcsrZe);
  // fldcw [rbx]; fld1; fldz; fdivp st(1), st(0)
  ok({0xd9, 0x2b, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9});
  EXPECT_EQ(fpu().fsw & (kFswEs | kFswB | kMxcsrZe), kFswEs | kFswB | kMxcsrZe);
  EXPECT_EQ(fpu().ftw, 0xc0) << "unmasked: the operands stay, nothing popped";
  ok({0xdf, 0xe0});  // fnstsw ax does not wait
  EXPECT_EQ(vm_.gpr(kRax) & 0xffff, fpu().fsw);
  expect_fault(run(kFld1), kVecMf);
  expect_fault(run(kFwait), kVecMf);
  state().cr0 &= ~cr0::kNe;  // no FERR# routing here: the error is ignored
  ok(kFld1);
  state().cr0 |= cr0::kNe;
  ok({0xdb, 0xe2});  // fnclex
  EXPECT_EQ(fpu().fsw & (kFswEs | kFswB | kMxcsrFlags), 0);
  ok(kFld1);
}

// An unmasked invalid operation leaves a memory destination and the stack alone.
TEST_F(X87Test, UnmaskedInvalidStoreWritesNothing) {
  set_data<uint16_t>(0, kFcwInit & ~kMxcsrIe);
  set_data<double>(8, 1e10);
  set_data<uint16_t>(16, 0x5555);
  // fldcw [rbx]; fld qword [rbx+8]; fistp word [rbx+16]
  ok({0xd9, 0x2b, 0xdd, 0x43, 0x08, 0xdf, 0x5b, 0x10});
  EXPECT_EQ(data<uint16_t>(16), 0x5555);
  EXPECT_EQ(fpu().fsw & (kMxcsrIe | kFswEs), kMxcsrIe | kFswEs);
  EXPECT_NE(fpu().ftw, 0) << "not popped";
  ok({0xdb, 0xe2, 0xd9, 0x6b, 0x20});  // fnclex; fldcw [rbx+32] (zero: reads 0x0040)
  EXPECT_EQ(fpu().fcw, kFcwFixed1);
}

TEST_F(X87Test, MaskedInvalidStoresTheIndefinite) {
  set_data<double>(8, 1e10);
  ok({0xdd, 0x43, 0x08, 0xdf, 0x5b, 0x10});  // fld qword [rbx+8]; fistp word [rbx+16]
  EXPECT_EQ(data<uint16_t>(16), 0x8000);
  EXPECT_EQ(fpu().fsw & kMxcsrIe, kMxcsrIe);
  EXPECT_EQ(fpu().ftw, 0);
}

TEST_F(X87Test, FcomiSetsRflags) {
  // fld1; fldz; fcomi st(0), st(1): 0 < 1
  vm_.set_rflags(0x2 | kFlagOf | kFlagZf);
  ok({0xd9, 0xe8, 0xd9, 0xee, 0xdb, 0xf1});
  EXPECT_EQ(vm_.rflags() & kFlagsArith, kFlagCf);
}

TEST_F(X87Test, FcmovReadsRflags) {
  for (bool carry : {false, true}) {
    fpu() = FpuState{};
    vm_.set_rflags(0x2 | (carry ? kFlagCf : 0));
    ok({0xd9, 0xe8, 0xd9, 0xee, 0xda, 0xc1});  // fld1; fldz; fcmovb st(0), st(1)
    long double st0 = -1;
    std::memcpy(&st0, fpu().st[0], 10);
    EXPECT_EQ(st0, carry ? 1.0L : 0.0L);
  }
}

TEST_F(X87Test, FnstenvWritesFullTagsAndMasksEverything) {
  fpu().fcw = kFcwInit & ~kMxcsrPe;
  // fld1; fldz; fnstenv [rbx]
  ok({0xd9, 0xe8, 0xd9, 0xee, 0xd9, 0x33});
  // TOP 6: R6 zero (01), R7 valid (00), the rest empty (11)
  EXPECT_EQ(data<uint16_t>(8), 0x1fff);
  EXPECT_EQ(data<uint16_t>(0), kFcwInit & ~kMxcsrPe);
  EXPECT_EQ(fpu().fcw, kFcwInit) << "FNSTENV masks every exception afterwards";
  EXPECT_EQ(data<uint16_t>(4) >> 11, 6);
  // fldenv [rbx] brings back the unmasked PE
  ok({0xd9, 0x23});
  EXPECT_EQ(fpu().fcw, kFcwInit & ~kMxcsrPe);
}

// FNINIT moves TOP to 0 without moving the registers: ST(i) is renamed.
TEST_F(X87Test, FninitKeepsPhysicalRegisters) {
  // fld1; fninit; fxsave64 [rbx]: ST(7) is physical register 7, which holds the 1.0.
  ok({0xd9, 0xe8, 0xdb, 0xe3, 0x48, 0x0f, 0xae, 0x03});
  long double st7 = 0;
  vm_.read(kData + 32 + 16 * 7, &st7, 10);
  EXPECT_EQ(st7, 1.0L);
  EXPECT_EQ(fpu().ftw, 0);
  EXPECT_EQ(fpu().fcw, kFcwInit);
}

TEST_F(X87Test, FxsaveAndFxrstorImages) {
  fpu().xmm[9] = Xmm{0x99, 0x999};
  fpu().mxcsr = kMxcsrReset | kMxcsrFtz;
  fpu().fip = 0x1122334455667788;
  // fxsave64 [rbx]; fxsave [rbx+512] (the 32-bit FIP form)
  vm_.map(kData + 0x1000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  ok({0x48, 0x0f, 0xae, 0x03, 0x0f, 0xae, 0x83, 0x00, 0x02, 0x00, 0x00});
  EXPECT_EQ(data<uint64_t>(8), 0x1122334455667788u);
  EXPECT_EQ(data<uint64_t>(512 + 8), 0x55667788u) << "FIP 32 bits, FCS 0";
  EXPECT_EQ(data<uint32_t>(24), kMxcsrReset | kMxcsrFtz);
  EXPECT_EQ(data<uint32_t>(28), kMxcsrWritable) << "MXCSR_MASK: DAZ supported";
  EXPECT_EQ(data<uint64_t>(160 + 16 * 9), 0x99u);

  fpu() = FpuState{};
  ok({0x48, 0x0f, 0xae, 0x0b});  // fxrstor64 [rbx]
  EXPECT_EQ(fpu().xmm[9], (Xmm{0x99, 0x999}));
  EXPECT_EQ(fpu().mxcsr, kMxcsrReset | kMxcsrFtz);

  set_data<uint32_t>(24, 0x1f80 | 1u << 20);
  expect_fault(run({0x48, 0x0f, 0xae, 0x0b}), kVecGp);
  vm_.set_gpr(kRbx, kData + 8);
  expect_fault(run({0x48, 0x0f, 0xae, 0x03}), kVecGp);  // misaligned
}

// Linux's FPU bring-up (arch/x86/kernel/fpu/init.c) from a boot state with EM and TS set
// and SSE off: CR0 without EM and TS, with MP; CR4.OSFXSR and OSXMMEXCPT; FNINIT; FXSAVE to
// learn MXCSR_MASK; then the first SSE and x87 instructions.
TEST_F(X87Test, LinuxFpuInitSequence) {
  state().cr0 |= cr0::kEm | cr0::kTs;
  state().cr4 = kCr4Pae;
  expect_fault(run({0x66, 0x0f, 0xef, 0xc0}), kVecUd);  // pxor before: #UD
  FlatVm kernel(0);
  kernel.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
  kernel.map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  kernel.vcpu().state().cr0 |= cr0::kEm | cr0::kTs;
  kernel.vcpu().state().cr4 = kCr4Pae;
  kernel.set_gpr(kRbx, kData);
  const Bytes code = {
      0x0f, 0x20, 0xc0,              // mov rax, cr0
      0x48, 0x83, 0xe0, 0xf3,        // and rax, ~(EM | TS)
      0x48, 0x83, 0xc8, 0x02,        // or rax, MP
      0x0f, 0x22, 0xc0,              // mov cr0, rax
      0x0f, 0x20, 0xe0,              // mov rax, cr4
      0x0d, 0x00, 0x06, 0x00, 0x00,  // or eax, OSFXSR | OSXMMEXCPT
      0x0f, 0x22, 0xe0,              // mov cr4, rax
      0xdb, 0xe3,                    // fninit
      0x0f, 0xae, 0x03,              // fxsave [rbx]
      0x8b, 0x43, 0x1c,              // mov eax, [rbx+28]: MXCSR_MASK
      0x66, 0x0f, 0xef, 0xc0,        // pxor xmm0, xmm0
      0xd9, 0xe8, 0xdd, 0xd8,        // fld1; fstp st(0)
  };
  kernel.write(kCode, code.data(), code.size());
  kernel.set_rip(kCode);
  const RunOutcome out = kernel.run_until(kCode + code.size(), 100);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message << " vector " << int(out.vector);
  EXPECT_EQ(kernel.gpr(kRax), 0xffffu);
  EXPECT_EQ(kernel.vcpu().state().cr4 & (kCr4Osfxsr | kCr4Osxmmexcpt), kCr4Osfxsr | kCr4Osxmmexcpt);
}

// The host runs the guest's x87 instructions; its own state must come back unchanged.
TEST_F(X87Test, ReplayLeavesTheHostsFpuAlone) {
  uint16_t cw_before, cw_after;
  asm volatile("fnstcw %0" : "=m"(cw_before));
  const uint32_t mxcsr_before = _mm_getcsr();
  set_data<uint16_t>(0, 0x0c40);  // all unmasked, round toward zero, 24-bit precision
  // fldcw [rbx]; fld1; fldz; fdivp (unmasked ZE); fld1; fld1 (fills, and errors wait)
  const RunOutcome out = run({0xd9, 0x2b, 0xd9, 0xe8, 0xd9, 0xee, 0xde, 0xf9, 0xd9, 0xe8});
  EXPECT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, kVecMf);
  asm volatile("fnstcw %0" : "=m"(cw_after));
  EXPECT_EQ(cw_after, cw_before);
  EXPECT_EQ(_mm_getcsr(), mxcsr_before);
  volatile double x = 1.0, y = 3.0;
  EXPECT_NEAR(x / y, 0.333333333333, 1e-9) << "the host's own floating point still works";
}

}  // namespace
}  // namespace densevm::cpu
