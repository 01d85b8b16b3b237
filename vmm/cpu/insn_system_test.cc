// System instructions one at a time on a FlatVm, exceptions reported (not delivered).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/support/system_insn_fixture.h"
#include "vmm/cpu/cpuid.h"
#include "vmm/cpu/decoder.h"

namespace densevm::cpu {
namespace {

TEST_F(SystemInsnTest, MovCr3LoadsAndReadsBack) {
  make(0);
  vm().set_gpr(kRax, 0x123000);
  // mov cr3, rax; mov rbx, cr3
  ASSERT_EQ(run({0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xdb}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cr3, 0x123000u);
  EXPECT_EQ(vm().gpr(kRbx), 0x123000u);
  EXPECT_EQ(vm().vcpu().counters().cr3_loads, 1u);
}

TEST_F(SystemInsnTest, MovCr3RejectsAddressBitsBeyondMaxPhysAddr) {
  make(0);
  vm().set_gpr(kRax, uint64_t{1} << 63);
  expect_gp(run({0x0f, 0x22, 0xd8}));
  EXPECT_EQ(state().cr3, 0u);
}

TEST_F(SystemInsnTest, MovCr0KeepsLongModeAndHardwiresEt) {
  make(0);
  vm().set_gpr(kRax, kCr0Pe | kCr0Pg);  // clears WP
  // mov cr0, rax; mov rbx, cr0
  ASSERT_EQ(run({0x0f, 0x22, 0xc0, 0x0f, 0x20, 0xc3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), kCr0Pe | kCr0Pg | 0x10);

  for (uint64_t bad : {uint64_t{kCr0Pe}, uint64_t{kCr0Pg}, (uint64_t{1} << 32) | kCr0Pe | kCr0Pg,
                       uint64_t{kCr0Pe | kCr0Pg | (1u << 29)}}) {  // NW without CD
    vm().set_gpr(kRax, bad);
    expect_gp(run({0x0f, 0x22, 0xc0}));
  }
}

TEST_F(SystemInsnTest, MovCr4AcceptsOnlyAdvertisedBits) {
  make(0);
  vm().set_gpr(kRax, kCr4Pae | kCr4Tsd | kCr4Osfxsr | kCr4Osxmmexcpt);
  // mov cr4, rax; mov rbx, cr4
  ASSERT_EQ(run({0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), kCr4Pae | kCr4Tsd | kCr4Osfxsr | kCr4Osxmmexcpt);
  vm().set_gpr(kRax, kCr4Pae | kCr4Pge);  // global pages are advertised
  ASSERT_EQ(run({0x0f, 0x22, 0xe0, 0x0f, 0x20, 0xe3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), kCr4Pae | kCr4Pge);
  vm().set_gpr(kRax, kCr4Pae | (1u << 20));  // SMEP is not
  expect_gp(run({0x0f, 0x22, 0xe0}));
  vm().set_gpr(kRax, 0);  // leaving PAE would leave long mode
  expect_gp(run({0x0f, 0x22, 0xe0}));
}

TEST_F(SystemInsnTest, MovCr2AndCr8) {
  make(0);
  vm().set_gpr(kRax, 0xdead000);
  // mov cr2, rax; mov rbx, cr2
  ASSERT_EQ(run({0x0f, 0x22, 0xd0, 0x0f, 0x20, 0xd3}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), 0xdead000u);
  vm().set_gpr(kRax, 15);
  // mov cr8, rax; mov rbx, cr8: the task priority is not modelled and reads 0
  ASSERT_EQ(run({0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x20, 0xc3}).kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRbx), 0u);
  vm().set_gpr(kRax, 16);
  expect_gp(run({0x44, 0x0f, 0x22, 0xc0}));
}

TEST_F(SystemInsnTest, PrivilegedInstructionsInRing3RaiseGp0) {
  const Bytes cases[] = {
      {0x0f, 0x22, 0xd8},  // mov cr3, rax
      {0x0f, 0x20, 0xdb},  // mov rbx, cr3
      {0x0f, 0x01, 0x17},  // lgdt [rdi]
      {0x0f, 0x01, 0x1f},  // lidt [rdi]
      {0x0f, 0x00, 0xd8},  // ltr ax
      {0x0f, 0x01, 0x3f},  // invlpg [rdi]
      {0xf4},              // hlt
      {0xfa},              // cli (IOPL 0)
      {0xfb},              // sti
      {0xe4, 0x60},        // in al, 0x60
      {0xef},              // out dx, eax
      {0x0f, 0x32},        // rdmsr
      {0x0f, 0x30},        // wrmsr
      {0x0f, 0x01, 0xf8},  // swapgs
      {0x48, 0x0f, 0x07},  // sysretq
  };
  for (const Bytes& code : cases) {
    make(3);
    vm().set_gpr(kRdi, kData);
    vm().set_gpr(kRcx, kMsrLstar);
    SCOPED_TRACE(disassemble(code.data(), code.size(), kCode));
    expect_gp(run(code));
    EXPECT_EQ(state().cpl, 3);
  }
}

TEST_F(SystemInsnTest, UnknownMsrAndBadValuesRaiseGp) {
  make(0);
  vm().set_gpr(kRcx, 0x12345678);
  expect_gp(run({0x0f, 0x32}));  // rdmsr
  vm().set_gpr(kRcx, kMsrLstar);
  vm().set_gpr(kRdx, 0x00008000);  // 0x0000800000000000: not canonical
  vm().set_gpr(kRax, 0);
  expect_gp(run({0x0f, 0x30}));
  vm().set_gpr(kRcx, kMsrEfer);
  vm().set_gpr(kRdx, 0);
  vm().set_gpr(kRax, kEferSce);  // clearing LME/LMA would leave long mode
  expect_gp(run({0x0f, 0x30}));
}

TEST_F(SystemInsnTest, WrmsrThenRdmsrUsesEdxEax) {
  make(0);
  vm().set_gpr(kRcx, kMsrKernelGsBase);
  vm().set_gpr(kRdx, 0xffff8000);
  vm().set_gpr(kRax, 0xdeadbeef'12345000);  // upper half ignored
  // wrmsr; xor eax, eax; xor edx, edx; rdmsr
  ASSERT_EQ(run({0x0f, 0x30, 0x31, 0xc0, 0x31, 0xd2, 0x0f, 0x32}).kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().kernel_gs_base, 0xffff8000'12345000u);
  EXPECT_EQ(vm().gpr(kRax), 0x12345000u);
  EXPECT_EQ(vm().gpr(kRdx), 0xffff8000u);
}

// The MSRs Linux reads and writes at boot (SDM Vol 4): values kept, reserved values refused.
TEST_F(SystemInsnTest, PlatformMsrsKeepValidValuesAndRefuseReservedOnes) {
  make(0);
  auto wrmsr = [&](uint32_t msr, uint64_t value) {
    vm().set_gpr(kRcx, msr);
    vm().set_gpr(kRdx, value >> 32);
    vm().set_gpr(kRax, value & 0xffffffff);
    return run({0x0f, 0x30});
  };
  auto rdmsr = [&](uint32_t msr) {
    vm().set_gpr(kRcx, msr);
    EXPECT_EQ(run({0x0f, 0x32}).kind, RunOutcome::Kind::kReachedStop) << std::hex << msr;
    return (vm().gpr(kRdx) << 32) | vm().gpr(kRax);
  };
  EXPECT_EQ(rdmsr(kMsrPat), 0x0007040600070406u) << "reset value";
  ASSERT_EQ(wrmsr(kMsrPat, 0x0007010600070106).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(rdmsr(kMsrPat), 0x0007010600070106u);
  expect_gp(wrmsr(kMsrPat, 0x0007040600070402));  // type 2 is reserved
  EXPECT_EQ(rdmsr(kMsrMtrrCap), 0u) << "no variable ranges";
  ASSERT_EQ(wrmsr(kMsrMtrrDefType, 0xc06).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(rdmsr(kMsrMtrrDefType), 0xc06u);
  expect_gp(wrmsr(kMsrMtrrDefType, 0x1006));  // bit 12 is reserved
  expect_gp(wrmsr(kMsrMtrrDefType, 0xc02));   // type 2 is reserved
  EXPECT_EQ(rdmsr(kMsrMiscEnable) & 0x1801, 0x1801u) << "fast strings, BTS/PEBS unavailable";
  ASSERT_EQ(wrmsr(kMsrMiscEnable, 0x1800).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(rdmsr(kMsrMiscEnable) & 1, 0u);
  expect_gp(wrmsr(kMsrMiscEnable, 0x1801 | (1u << 8)));
  ASSERT_EQ(wrmsr(kMsrBiosSignId, 0).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(rdmsr(kMsrBiosSignId), 0u);
  EXPECT_EQ(rdmsr(kMsrPlatformInfo) >> 8 & 0xff, 10u) << "1 GHz = 10 x 100 MHz";
  vm().set_gpr(kRcx, kMsrTscDeadline);
  expect_gp(run({0x0f, 0x32}));  // no local APIC behind this vCPU
}

TEST_F(SystemInsnTest, SwapgsExchangesBases) {
  make(0);
  state().gs_base = 0x1000;
  state().kernel_gs_base = 0x2000;
  ASSERT_EQ(run({0x0f, 0x01, 0xf8}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().gs_base, 0x2000u);
  EXPECT_EQ(state().kernel_gs_base, 0x1000u);
}

TEST_F(SystemInsnTest, RdtscCountsRetiredInstructionsAndHonoursTsd) {
  make(3);
  vm().set_gpr(kRax, ~uint64_t{0});
  // nop; nop; rdtsc
  ASSERT_EQ(run({0x90, 0x90, 0x0f, 0x31}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRax), 2u) << "two instructions retired before RDTSC";
  EXPECT_EQ(vm().gpr(kRdx), 0u);
  state().cr4 |= kCr4Tsd;
  expect_gp(run({0x0f, 0x31}));
}

TEST_F(SystemInsnTest, MovToDataSegmentsChecksTheDescriptor) {
  make(3);
  vm().set_gpr(kRax, kUserData);
  // mov ds, eax; mov es, eax; mov fs, eax; mov gs, eax
  ASSERT_EQ(run({0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xe0, 0x8e, 0xe8}).kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().ds, kUserData);
  EXPECT_EQ(state().gs, kUserData);
  state().fs_base = 0x5000;
  vm().set_gpr(kRax, 0);  // null is fine in 64-bit mode and leaves the base alone
  ASSERT_EQ(run({0x8e, 0xe0}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().fs, 0);
  EXPECT_EQ(state().fs_base, 0x5000u);

  vm().set_gpr(kRax, kKernelData);  // DPL 0 data from ring 3
  expect_gp(run({0x8e, 0xd8}), kKernelData);
  vm().set_gpr(kRax, 0x1000);  // beyond the GDT limit
  expect_gp(run({0x8e, 0xd8}), 0x1000);
  vm().set_gpr(kRax, kUserData | 4);  // LDT selector
  expect_gp(run({0x8e, 0xd8}), (kUserData & ~3) | 4);

  make(0);
  vm().set_gpr(kRax, kAbsentData);
  const RunOutcome out = run({0x8e, 0xd8});
  EXPECT_EQ(out.vector, kVecNp);
  EXPECT_EQ(out.error_code, kAbsentData);
}

TEST_F(SystemInsnTest, MovToSsFollowsTheStackRules) {
  make(3);
  vm().set_gpr(kRax, kUserData);
  ASSERT_EQ(run({0x8e, 0xd0}).kind, RunOutcome::Kind::kReachedStop);  // mov ss, eax
  EXPECT_EQ(state().ss, kUserData);
  vm().set_gpr(kRax, 0x20);  // RPL 0 in ring 3
  expect_gp(run({0x8e, 0xd0}), 0x20);
  vm().set_gpr(kRax, 0);
  expect_gp(run({0x8e, 0xd0}));
  vm().set_gpr(kRax, kUserCode);  // not writable data
  expect_gp(run({0x8e, 0xd0}), kUserCode & ~3);

  make(0);
  vm().set_gpr(kRax, 0);  // a null SS is fine in ring 0
  ASSERT_EQ(run({0x8e, 0xd0}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().ss, 0);
  vm().set_gpr(kRax, kKernelData);
  ASSERT_EQ(run({0x8e, 0xd0}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().ss, kKernelData);
}

TEST_F(SystemInsnTest, MovFromSegmentRegisters) {
  make(3);
  vm().set_gpr(kRax, ~uint64_t{0});
  vm().set_gpr(kRbx, ~uint64_t{0});
  vm().set_gpr(kRdi, kData);
  state().ds = kUserData;
  const uint64_t ones = ~uint64_t{0};
  vm().write(kData, &ones, 8);
  // mov eax, cs; mov bx, ds; mov [rdi], ds
  ASSERT_EQ(run({0x8c, 0xc8, 0x66, 0x8c, 0xdb, 0x8c, 0x1f}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRax), kUserCode) << "32-bit destination: zero-extended";
  EXPECT_EQ(vm().gpr(kRbx), 0xffffffff'ffff0000u | kUserData) << "16-bit: upper bits kept";
  uint64_t stored = ~uint64_t{0};
  vm().read(kData, &stored, 8);
  EXPECT_EQ(stored, 0xffffffff'ffff0000u | kUserData) << "memory: 16 bits";
}

TEST_F(SystemInsnTest, DescriptorTableRegistersRoundTrip) {
  make(0);
  const uint8_t image[10] = {0xff, 0x0f, 0x00, 0x30, 0x00, 0x00, 0x00, 0x80, 0xff, 0xff};
  vm().write(kData, image, sizeof image);
  vm().set_gpr(kRdi, kData);
  vm().set_gpr(kRsi, kData + 0x100);
  // lidt [rdi]; sidt [rsi]
  ASSERT_EQ(run({0x0f, 0x01, 0x1f, 0x0f, 0x01, 0x0e}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().idtr.base, 0xffff8000'00003000u);
  EXPECT_EQ(state().idtr.limit, 0x0fff);
  uint8_t back[10];
  vm().read(kData + 0x100, back, sizeof back);
  EXPECT_EQ(std::memcmp(back, image, sizeof image), 0);

  // lgdt [rdi]; sgdt [rsi]: SGDT is allowed in ring 3 (no UMIP)
  ASSERT_EQ(run({0x0f, 0x01, 0x17}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().gdtr.base, 0xffff8000'00003000u);
  state().cpl = 3;
  vm().vcpu().set_cpl(3);
  ASSERT_EQ(run({0x0f, 0x01, 0x06}).kind, RunOutcome::Kind::kReachedStop);
}

TEST_F(SystemInsnTest, LtrLoadsTheTssAndMarksItBusy) {
  make(0);
  vm().set_gpr(kRax, kTssSel);
  // ltr ax; str ebx
  ASSERT_EQ(run({0x0f, 0x00, 0xd8, 0x0f, 0x00, 0xcb}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().tr, kTssSel);
  EXPECT_EQ(state().tss_base, kTss);
  EXPECT_EQ(vm().gpr(kRbx), kTssSel);
  uint64_t desc;
  vm().read(kGdt + kTssSel, &desc, 8);
  EXPECT_EQ((desc >> 40) & 0xf, 11u) << "busy 64-bit TSS";
  expect_gp(run({0x0f, 0x00, 0xd8}), kTssSel);  // already busy

  vm().set_gpr(kRax, kKernelData);
  expect_gp(run({0x0f, 0x00, 0xd8}), kKernelData);
  vm().set_gpr(kRax, 0);
  expect_gp(run({0x0f, 0x00, 0xd8}));
  const uint64_t cut = tss_descriptor_low(kTss);  // its upper half beyond the GDT limit
  vm().write(kGdt + 0x48, &cut, 8);
  state().gdtr.limit = 0x4f;
  vm().set_gpr(kRax, 0x48);
  expect_gp(run({0x0f, 0x00, 0xd8}), 0x48);
}

TEST_F(SystemInsnTest, InvlpgCountsAndToleratesNonCanonical) {
  make(0);
  vm().set_gpr(kRdi, kData);
  ASSERT_EQ(run({0x0f, 0x01, 0x3f}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().vcpu().counters().invlpg, 1u);
  vm().set_gpr(kRdi, 0x8000'0000'0000'0000);
  ASSERT_EQ(run({0x0f, 0x01, 0x3f}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().vcpu().counters().invlpg, 1u) << "a no-op";
}

TEST_F(SystemInsnTest, PortIoMovesTheAccumulator) {
  make(0);
  vm().set_port_input(0x60, 0x12345678);
  vm().set_port_input(0x3f8, 0xcafef00d);
  vm().set_gpr(kRax, 0xffffffff'ffffff00 | 0x41);
  vm().set_gpr(kRdx, 0x3f8);
  // out 0x80, al; out dx, ax; out dx, eax; in al, 0x60; in eax, dx
  ASSERT_EQ(run({0xe6, 0x80, 0x66, 0xef, 0xef, 0xe4, 0x60, 0xed}).kind,
            RunOutcome::Kind::kReachedStop);
  const auto& w = vm().port_writes();
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].port, 0x80);
  EXPECT_EQ(w[0].size, 1u);
  EXPECT_EQ(w[0].value, 0x41u);
  EXPECT_EQ(w[1].port, 0x3f8);
  EXPECT_EQ(w[1].size, 2u);
  EXPECT_EQ(w[1].value, 0xff41u);
  EXPECT_EQ(w[2].size, 4u);
  EXPECT_EQ(w[2].value, 0xffffff41u);
  EXPECT_EQ(vm().gpr(kRax), 0xcafef00du) << "IN EAX zero-extends";

  vm().set_gpr(kRax, 0x1111);
  ASSERT_EQ(run({0xe4, 0x60}).kind, RunOutcome::Kind::kReachedStop);  // in al, 0x60
  EXPECT_EQ(vm().gpr(kRax), 0x1178u) << "IN AL keeps the rest of RAX";
}

TEST_F(SystemInsnTest, PortIoInRing3NeedsIopl3) {
  make(3);
  vm().set_rflags(kFlagIopl);
  ASSERT_EQ(run({0xe6, 0x80}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().port_writes().size(), 1u);
  ASSERT_EQ(run({0xfa}).kind, RunOutcome::Kind::kReachedStop);  // cli is allowed too
  EXPECT_FALSE(vm().rflags() & kFlagIf);
}

TEST_F(SystemInsnTest, HltStopsTheRunInRing0) {
  make(0);
  vm().write(kCode, Bytes{0xf4}.data(), 1);
  vm().set_rip(kCode);
  const RunOutcome out = vm().run_until(kCode + 0x100, 5);
  EXPECT_EQ(out.kind, RunOutcome::Kind::kStopped);
  EXPECT_EQ(out.message, "halted");
  EXPECT_TRUE(vm().vcpu().halted());
  EXPECT_EQ(vm().rip(), kCode + 1);
}

TEST_F(SystemInsnTest, CliStiInRing0) {
  make(0);
  vm().set_rflags(kFlagIf);
  ASSERT_EQ(run({0xfa}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_FALSE(vm().rflags() & kFlagIf);
  ASSERT_EQ(run({0xfb}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_TRUE(vm().rflags() & kFlagIf);
}

TEST_F(SystemInsnTest, PopfInRing3KeepsIoplAndIf) {
  make(3);
  vm().set_rflags(kFlagIf);
  const uint64_t image = kFlagCf | kFlagDf | kFlagIopl | kFlagRf | kFlagAc;  // IF clear
  vm().write(kStack + 0xff8, &image, 8);
  vm().set_gpr(kRsp, kStack + 0xff8);
  ASSERT_EQ(run({0x9d}).kind, RunOutcome::Kind::kReachedStop);  // popfq
  EXPECT_EQ(vm().rflags(), kFlagFixed1 | kFlagCf | kFlagDf | kFlagAc | kFlagIf);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x1000);
}

TEST_F(SystemInsnTest, PopfInRing0LoadsIoplAndIfButNotRf) {
  make(0);
  const uint64_t image = kFlagZf | kFlagIopl | kFlagIf | kFlagRf | kFlagNt;
  vm().write(kStack + 0xff8, &image, 8);
  vm().set_gpr(kRsp, kStack + 0xff8);
  ASSERT_EQ(run({0x9d}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().rflags(), kFlagFixed1 | kFlagZf | kFlagIopl | kFlagIf | kFlagNt);
}

TEST_F(SystemInsnTest, PushfqPushesTheLiveFlags) {
  make(3);
  vm().set_gpr(kRax, 0);
  // xor eax, eax (ZF PF); pushfq
  ASSERT_EQ(run({0x31, 0xc0, 0x9c}).kind, RunOutcome::Kind::kReachedStop);
  uint64_t pushed;
  vm().read(kStack + 0xff8, &pushed, 8);
  EXPECT_EQ(pushed, kFlagFixed1 | kFlagZf | kFlagPf);
}

TEST_F(SystemInsnTest, Ud2AndInt3AreReportedAtTheInstruction) {
  make(3);
  RunOutcome out = run({0x0f, 0x0b});
  EXPECT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, kVecUd);
  EXPECT_EQ(vm().rip(), kCode);
  out = run({0xcc});
  EXPECT_EQ(out.vector, kVecBp);
}

TEST_F(SystemInsnTest, SyscallNeedsEferSce) {
  make(3);
  state().efer &= ~kEferSce;
  const RunOutcome out = run({0x0f, 0x05});
  EXPECT_EQ(out.vector, kVecUd);
  EXPECT_EQ(state().cpl, 3);
}

TEST_F(SystemInsnTest, FarReturnReloadsCsInTheSameRing) {
  make(0);
  state().cs = 0;
  const uint64_t frame[2] = {kCode + 0x100, kKernelCode};
  vm().write(kStack + 0xff0, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xff0);
  vm().write(kCode, Bytes{0x48, 0xcb}.data(), 2);  // lretq
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x100, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cs, kKernelCode);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x1000);

  // retf 16 with 32-bit slots: EIP, CS, then 16 more bytes
  const uint32_t narrow[2] = {static_cast<uint32_t>(kCode + 0x200), kKernelCode};
  vm().write(kStack + 0xf00, narrow, sizeof narrow);
  vm().set_gpr(kRsp, kStack + 0xf00);
  vm().write(kCode, Bytes{0xca, 0x10, 0x00}.data(), 3);
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x200, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0xf00 + 8 + 16);
}

TEST_F(SystemInsnTest, FarReturnRefusesInnerRingsAndDataSegments) {
  make(3);
  const uint64_t to_kernel[2] = {kCode, kKernelCode};
  vm().write(kStack + 0xff0, to_kernel, sizeof to_kernel);
  vm().set_gpr(kRsp, kStack + 0xff0);
  expect_gp(run({0x48, 0xcb}), kKernelCode);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0xff0);
  const uint64_t to_data[2] = {kCode, kUserData};
  vm().write(kStack + 0xff0, to_data, sizeof to_data);
  expect_gp(run({0x48, 0xcb}), kUserData & ~3);
}

TEST_F(SystemInsnTest, IretqInTheSameRing) {
  make(0);
  state().ss = kKernelData;
  const uint64_t frame[5] = {kCode + 0x80, kKernelCode, kFlagIf | kFlagCf, kStack + 0x800, 0};
  vm().write(kStack + 0xfd8, frame, sizeof frame);
  vm().set_gpr(kRsp, kStack + 0xfd8);
  vm().write(kCode, Bytes{0x48, 0xcf}.data(), 2);
  vm().set_rip(kCode);
  ASSERT_EQ(vm().run_until(kCode + 0x80, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRsp), kStack + 0x800);
  EXPECT_EQ(state().ss, 0) << "IRETQ pops SS even in the same ring";
  EXPECT_EQ(vm().rflags(), kFlagFixed1 | kFlagIf | kFlagCf);
  EXPECT_EQ(state().cpl, 0);
}

TEST_F(SystemInsnTest, IretqWithNtIsGp) {
  make(0);
  vm().set_rflags(kFlagNt);
  expect_gp(run({0x48, 0xcf}));
}

TEST_F(SystemInsnTest, SixteenBitFormsAreUnimplementedUd) {
  make(0);
  // pushf (16-bit) is not modelled: #UD, counted as unimplemented
  const RunOutcome out = run({0x66, 0x9c});
  EXPECT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
  EXPECT_EQ(out.vector, kVecUd);
  EXPECT_EQ(vm().vcpu().counters().unimplemented_ud, 1u);
  EXPECT_EQ(vm().vcpu().unimplemented_first(), std::vector<std::string>{"pushf"});
}

// ---- CPUID: a fixed virtual CPU ----

std::string vendor() {
  const CpuidResult r = cpuid(0, 0);
  char s[13] = {};
  std::memcpy(s, &r.ebx, 4);
  std::memcpy(s + 4, &r.edx, 4);
  std::memcpy(s + 8, &r.ecx, 4);
  return s;
}

TEST(SystemCpuidTest, DescribesTheVirtualCpu) {
  EXPECT_EQ(vendor(), "GenuineIntel");
  EXPECT_EQ(cpuid(0, 0).eax, 0x16u);
  const CpuidResult l1 = cpuid(1, 0);
  EXPECT_TRUE(l1.edx & (1u << 4)) << "TSC";
  EXPECT_TRUE(l1.edx & (1u << 5)) << "MSR";
  EXPECT_TRUE(l1.edx & (1u << 6)) << "PAE";
  EXPECT_TRUE(l1.edx & (1u << 13)) << "global pages";
  EXPECT_TRUE(l1.ecx & (1u << 24)) << "TSC deadline";
  EXPECT_TRUE(l1.ecx & (1u << 31)) << "hypervisor";
  EXPECT_TRUE(cpuid(6, 0).eax & (1u << 2)) << "ARAT";
  EXPECT_TRUE(cpuid(0x80000007, 0).edx & (1u << 8)) << "invariant TSC";
  EXPECT_TRUE(l1.edx & (1u << 0)) << "x87";
  EXPECT_TRUE(l1.edx & (1u << 24)) << "FXSR";
  EXPECT_TRUE(l1.edx & (1u << 25)) << "SSE";
  EXPECT_TRUE(l1.edx & (1u << 26)) << "SSE2";
  EXPECT_FALSE(l1.edx & (1u << 23)) << "no MMX";
  // glibc must pick its SSE2 paths: nothing newer.
  for (unsigned bit : {0u, 9u, 12u, 19u, 20u, 26u, 27u, 28u}) {  // SSE3 SSSE3 FMA SSE4.1/2 XSAVE OSXSAVE AVX
    EXPECT_FALSE(l1.ecx & (1u << bit)) << "leaf 1 ECX bit " << bit;
  }
  const CpuidResult e1 = cpuid(0x80000001, 0);
  EXPECT_TRUE(e1.edx & (1u << 29)) << "LM";
  EXPECT_TRUE(e1.edx & (1u << 20)) << "NX";
  EXPECT_TRUE(e1.edx & (1u << 11)) << "SYSCALL";
  EXPECT_EQ(cpuid(0x80000000, 0).eax, 0x80000008u);
  EXPECT_EQ(cpuid(0x80000008, 0).eax & 0xff00, 48u << 8);
  const CpuidResult unknown = cpuid(0x40000100, 0);
  EXPECT_EQ(unknown.eax | unknown.ebx | unknown.ecx | unknown.edx, 0u);
  EXPECT_EQ(cpuid(7, 0).ebx, 1u << 13) << "only: FCS and FDS are stored as 0";
  EXPECT_EQ(cpuid(7, 1).ebx, 0u);
}

// Linux's native_calibrate_tsc: TSC Hz = ECX * EBX / EAX of leaf 0x15, and the local APIC
// timer runs at the crystal's ECX Hz; both must be virtual time's rate, 10^9 a second.
TEST(SystemCpuidTest, TimingLeavesGiveTheVirtualClockRate) {
  const CpuidResult l15 = cpuid(0x15, 0);
  ASSERT_NE(l15.eax, 0u);
  EXPECT_EQ(uint64_t{l15.ecx} * l15.ebx / l15.eax, kVirtualHz);
  EXPECT_EQ(l15.ecx, kVirtualHz) << "crystal = APIC bus";
  EXPECT_EQ(cpuid(0x16, 0).eax, kVirtualHz / 1'000'000);
  const CpuidResult h = cpuid(0x40000000, 0);
  EXPECT_EQ(h.eax, 0x40000010u);
  EXPECT_EQ(cpuid(0x40000010, 0).eax, kVirtualHz / 1000) << "TSC kHz";
  EXPECT_EQ(cpuid(0x40000010, 0).ebx, kVirtualHz / 1000) << "APIC bus kHz";
}

TEST(SystemCpuidTest, BrandString) {
  char brand[49] = {};
  for (uint32_t i = 0; i < 3; ++i) {
    const CpuidResult r = cpuid(0x80000002 + i, 0);
    std::memcpy(brand + 16 * i, &r, 16);
  }
  EXPECT_STREQ(brand, "DenseVM virtual x86-64 CPU");
}

TEST_F(SystemInsnTest, CpuidInstructionFillsFourRegisters) {
  make(3);
  vm().set_gpr(kRax, 0xffffffff'00000000);
  vm().set_gpr(kRbx, ~uint64_t{0});
  ASSERT_EQ(run({0x0f, 0xa2}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().gpr(kRax), 0x16u);
  EXPECT_EQ(vm().gpr(kRbx), cpuid(0, 0).ebx) << "upper half cleared";
}

// Every instruction a feature bit promises must decode; a missing one is a lie in the table.
TEST(SystemCpuidTest, AdvertisedInstructionsDecode) {
  auto has = [](uint32_t leaf, uint32_t CpuidResult::*reg, unsigned bit) {
    return ((cpuid(leaf, 0).*reg >> bit) & 1) != 0;
  };
  struct Case {
    const char* feature;
    bool advertised;
    Bytes bytes;
  };
  const Case cases[] = {
      {"CMOV", has(1, &CpuidResult::edx, 15), {0x48, 0x0f, 0x44, 0xc3}},
      {"POPCNT", has(1, &CpuidResult::ecx, 23), {0xf3, 0x48, 0x0f, 0xb8, 0xc3}},
      {"LZCNT", has(0x80000001, &CpuidResult::ecx, 5), {0xf3, 0x48, 0x0f, 0xbd, 0xc3}},
      {"LAHF", has(0x80000001, &CpuidResult::ecx, 0), {0x9f}},
      {"SYSCALL", has(0x80000001, &CpuidResult::edx, 11), {0x0f, 0x05}},
      {"RDTSC", has(1, &CpuidResult::edx, 4), {0x0f, 0x31}},
      {"RDMSR", has(1, &CpuidResult::edx, 5), {0x0f, 0x32}},
      {"FPU", has(1, &CpuidResult::edx, 0), {0xdb, 0xe3}},                  // fninit
      {"FXSR", has(1, &CpuidResult::edx, 24), {0x48, 0x0f, 0xae, 0x00}},   // fxsave64 [rax]
      {"SSE", has(1, &CpuidResult::edx, 25), {0x0f, 0x28, 0xc1}},          // movaps
      {"SSE2", has(1, &CpuidResult::edx, 26), {0x66, 0x0f, 0xef, 0xc0}},   // pxor
      {"FPU and CMOV: FCMOVcc", has(1, &CpuidResult::edx, 0) && has(1, &CpuidResult::edx, 15),
       {0xda, 0xc1}},  // fcmovb st0, st1
  };
  for (const Case& c : cases) {
    if (!c.advertised) continue;
    DecodedInsn d;
    EXPECT_EQ(decode_instruction(c.bytes.data(), c.bytes.size(), d), DecodeStatus::kOk)
        << c.feature << " is advertised but does not decode";
  }
}

}  // namespace
}  // namespace densevm::cpu
