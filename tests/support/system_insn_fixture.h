// SystemInsnTest: the fixture of the system-instruction tests (insn_*_test.cc): a FlatVm
// with code, stack and data pages and the GDT a 64-bit kernel uses, exceptions reported at
// the instruction (not delivered).
//
//   TEST_F(SystemInsnTest, Foo) { make(3); expect_gp(run({0x0f, 0x09})); }  // wbinvd
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

using testing::FlatVm;
using testing::RunOutcome;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = 0x10000, kStack = 0x20000, kData = 0x30000, kGdt = 0x40000,
                   kLdt = 0x40800, kTss = 0x41000;
constexpr uint64_t kGateTarget = kCode + 0x800;  // where the call gate at kGateSel leads
constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kUserData = 0x23, kUserCode = 0x2b,
                   kTssSel = 0x30, kAbsentData = 0x40, kLdtSel = 0x50, kGateSel = 0x60,
                   kUser32Code = 0x73, kGdtEntries = 16;
// In the LDT: 0x0f user data, 0x17 user code (DPL 3, TI set).
constexpr uint16_t kLdtUserData = 0x0f, kLdtUserCode = 0x17;

inline uint64_t tss_descriptor_low(uint64_t base) {
  return 0x67 | (base & 0xffffff) << 16 | uint64_t{0x89} << 40 | ((base >> 24) & 0xff) << 56;
}

// A 16-byte system descriptor's low half: type, DPL, present, base[31:0], limit[15:0].
inline uint64_t system_descriptor_low(uint64_t base, unsigned type, uint32_t limit) {
  return (limit & 0xffff) | (base & 0xffffff) << 16 | uint64_t{type} << 40 | uint64_t{1} << 47 |
         ((base >> 24) & 0xff) << 56;
}

// A 64-bit call gate of DPL `dpl` to selector:offset.
inline uint64_t call_gate_low(uint16_t selector, uint64_t offset, unsigned dpl) {
  return (offset & 0xffff) | uint64_t{selector} << 16 | uint64_t{0xc} << 40 |
         uint64_t{dpl} << 45 | uint64_t{1} << 47 | ((offset >> 16) & 0xffff) << 48;
}

// A FlatVm with code, stack and data pages and the GDT a 64-bit kernel uses.
class SystemInsnTest : public ::testing::Test {
 protected:
  void make(unsigned cpl) {
    vm_ = std::make_unique<FlatVm>(cpl);
    vm_->map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_->map(kStack, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kGdt, 0x2000, FlatVm::kRead | FlatVm::kWrite);
    const uint64_t gdt[kGdtEntries] = {0,
                                       0x00af9a000000ffff,  // 0x08 kernel code, L
                                       0x00cf92000000ffff,  // 0x10 kernel data
                                       0,
                                       0x00cff2000000ffff,  // 0x23 user data
                                       0x00affa000000ffff,  // 0x2b user code, L
                                       tss_descriptor_low(kTss),
                                       kTss >> 32,
                                       0x00cf12000000ffff,  // 0x40 data, not present
                                       0,
                                       system_descriptor_low(kLdt, 2, 0x17),  // 0x50 LDT
                                       kLdt >> 32,
                                       call_gate_low(kKernelCode, kGateTarget, 3),  // 0x60
                                       kGateTarget >> 32,
                                       0x00cffa000000ffff,  // 0x73 user code, 32-bit (L=0)
                                       0};
    vm_->write(kGdt, gdt, sizeof gdt);
    const uint64_t ldt[3] = {0, 0x00cff2000000ffff, 0x00affa000000ffff};
    vm_->write(kLdt, ldt, sizeof ldt);
    state().gdtr = {kGdt, sizeof gdt - 1};
    vm_->set_gpr(kRsp, kStack + 0x1000);
  }

  CpuState& state() { return vm_->vcpu().state(); }
  FlatVm& vm() { return *vm_; }

  RunOutcome run(const Bytes& code, uint64_t max = 50) {
    vm_->write(kCode, code.data(), code.size());
    vm_->set_rip(kCode);
    return vm_->run_until(kCode + code.size(), max);
  }

  void expect_gp(const RunOutcome& out, uint64_t error = 0) {
    EXPECT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, kVecGp);
    EXPECT_EQ(out.error_code, error);
    EXPECT_EQ(vm_->rip(), kCode) << "a faulting instruction does not retire";
  }

  std::unique_ptr<FlatVm> vm_;
};

}  // namespace densevm::cpu
