// The vCPU's checkpoint record keeps the x87/SSE state, and reads older records.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/fpu_snapshot.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

using testing::FlatVm;

FpuState distinct_fpu() {
  FpuState f;
  f.fcw = 0x0e7f;
  f.fsw = 0x3821;
  f.ftw = 0xa5;
  f.fop = 0x55b;
  f.fip = 0x123456789;
  f.fdp = 0xfedcba987;
  f.mxcsr = 0x7f80 | kMxcsrDaz | kMxcsrFtz;
  for (unsigned i = 0; i < 8; ++i) {
    for (unsigned b = 0; b < 10; ++b) f.st[i][b] = static_cast<uint8_t>(i * 16 + b);
  }
  for (unsigned i = 0; i < 16; ++i) f.xmm[i] = Xmm{i * 0x0101010101010101u, ~uint64_t{i}};
  return f;
}

TEST(VcpuSnapshot, KeepsTheFpuState) {
  FlatVm a, b;
  a.vcpu().state().fpu = distinct_fpu();
  StateWriter w;
  a.vcpu().save(w);
  StateReader r(w.bytes());
  b.vcpu().restore(r);
  r.expect_end("vcpu");
  EXPECT_EQ(b.vcpu().state().fpu, distinct_fpu());
}

// A version-2 record has no FPU state: the vCPU gets the reset one.
TEST(VcpuSnapshot, ReadsVersion2RecordsWithTheResetFpu) {
  FlatVm a, b;
  a.vcpu().state().gpr[kRbx] = 0xb0b;
  StateWriter w(2);
  a.vcpu().save(w);
  const std::vector<uint8_t> v2 = w.bytes();
  b.vcpu().state().fpu = distinct_fpu();
  StateReader r(v2, 2);
  b.vcpu().restore(r);
  r.expect_end("vcpu");
  EXPECT_EQ(b.vcpu().state().gpr[kRbx], 0xb0bu);
  EXPECT_EQ(b.vcpu().state().fpu, FpuState{});
}

TEST(VcpuSnapshot, RefusesFpuValuesNoInstructionCouldLoad) {
  for (int which = 0; which < 3; ++which) {
    FpuState bad = distinct_fpu();
    if (which == 0) bad.mxcsr |= 1u << 16;
    if (which == 1) bad.fcw = 0xffff;
    if (which == 2) bad.fop = 0x800;
    StateWriter w;
    save_fpu(w, bad);
    StateReader r(w.bytes());
    EXPECT_THROW((void)restore_fpu(r), StateError) << which;
  }
}

}  // namespace
}  // namespace densevm::cpu
