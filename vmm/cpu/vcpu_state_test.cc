// The vCPU's checkpoint record keeps the x87/SSE state, and reads older records.
#include <gtest/gtest.h>

#include <vector>

#include "tests/support/flat_vm.h"
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

TEST(VcpuState, KeepsTheFpuState) {
  FlatVm a, b;
  a.vcpu().state().fpu = distinct_fpu();
  StateWriter w;
  write_record(w, a.vcpu().save());
  StateReader r(w.bytes());
  b.vcpu().restore(read_record<VcpuState>(r));
  r.expect_end("vcpu");
  EXPECT_EQ(b.vcpu().state().fpu, distinct_fpu());

  // FORMAT.md: the x87/SSE state ends the record, 363 bytes: FCW, FSW, FTW, FOP, FIP, FDP,
  // MXCSR, then ST(0)..ST(7) as u64 significand and u16 sign and exponent, then XMM0..15.
  const std::vector<uint8_t>& b3 = w.bytes();
  const size_t at = b3.size() - 363;
  auto le = [&](size_t off, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; ++i) v |= uint64_t{b3[at + off + i]} << (8 * i);
    return v;
  };
  const FpuState f = distinct_fpu();
  EXPECT_EQ(le(0, 2), f.fcw);
  EXPECT_EQ(le(4, 1), f.ftw);
  EXPECT_EQ(le(5, 2), f.fop);
  EXPECT_EQ(le(23, 4), f.mxcsr);
  EXPECT_EQ(le(27 + 10 * 7 + 8, 2), uint64_t{f.st[7][8]} | uint64_t{f.st[7][9]} << 8) << "ST(7) sign and exponent";
  EXPECT_EQ(le(107 + 16 * 15 + 8, 8), f.xmm[15].hi);
}

// A version-2 record has no FPU state: the vCPU gets the reset one.
TEST(VcpuState, ReadsVersion2RecordsWithTheResetFpu) {
  FlatVm a, b;
  a.vcpu().state().gpr[kRbx] = 0xb0b;
  a.vcpu().state().fpu = distinct_fpu();
  StateWriter w(2);
  write_record(w, a.vcpu().save());
  const std::vector<uint8_t> v2 = w.bytes();
  StateWriter w3;
  write_record(w3, a.vcpu().save());
  EXPECT_EQ(w3.bytes().size() - v2.size(), 4 + 2 + 8 + 4 + 6 * 8 + 8 + 1 + 3 * 8 + 363u)
      << "version 3 adds the system state, the #UD count, no mnemonics, the MSRs and the FPU";
  b.vcpu().state().fpu = distinct_fpu();
  StateReader r(v2, 2);
  b.vcpu().restore(read_record<VcpuState>(r));
  r.expect_end("vcpu");
  EXPECT_EQ(b.vcpu().state().gpr[kRbx], 0xb0bu);
  EXPECT_EQ(b.vcpu().state().fpu, FpuState{});
}

// A record with FPU values no instruction could load is refused, and the vCPU is untouched.
TEST(VcpuState, RefusesFpuValuesNoInstructionCouldLoad) {
  for (int which = 0; which < 3; ++which) {
    FlatVm a, b;
    VcpuState s = a.vcpu().save();
    s.cpu.fpu = distinct_fpu();
    s.cpu.gpr[kRbx] = 0xbad;
    if (which == 0) s.cpu.fpu.mxcsr |= 1u << 16;
    if (which == 1) s.cpu.fpu.fcw = 0xffff;
    if (which == 2) s.cpu.fpu.fop = 0x800;
    EXPECT_THROW(b.vcpu().restore(s), StateError) << which;
    EXPECT_EQ(b.vcpu().state().gpr[kRbx], 0u) << which;
    EXPECT_EQ(b.vcpu().state().fpu, FpuState{}) << which;
  }
}

}  // namespace
}  // namespace densevm::cpu
