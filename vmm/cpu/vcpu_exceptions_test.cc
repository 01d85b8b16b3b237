// Exception and interrupt delivery through a real 64-bit IDT, GDT and TSS (SDM Vol 3A
// §6.14), and the returns from it: IRETQ and SYSCALL/SYSRETQ.
//
// Every IDT vector points at its own one-byte handler, HLT, 16 bytes apart, so after a run
// the vCPU sits just past the handler of the vector that was delivered, with the frame at RSP.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

using testing::FlatVm;
using testing::RunOutcome;
using Bytes = std::vector<uint8_t>;

constexpr uint64_t kCode = 0x100000;       // user code (FlatVm pages have no U/S bit)
constexpr uint64_t kStubs = 0x200000;      // handler of vector v at kStubs + 16 v
constexpr uint64_t kSyscallEntry = 0x210000;
constexpr uint64_t kIdt = 0x300000, kGdt = 0x301000, kTss = 0x302000;
constexpr uint64_t kRsp0 = 0x401000;       // top of the kernel stack page
constexpr uint64_t kIst1 = 0x501000;       // top of the IST1 stack page
constexpr uint64_t kUserRsp = 0x601000;
constexpr uint64_t kReadOnly = 0x700000;
constexpr uint64_t kUnmapped = 0x900000;
constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kUserData = 0x23, kUserCode = 0x2b,
                   kTssSel = 0x30;
constexpr uint8_t kTrapVector = 0x80, kKernelOnlyVector = 0x81, kIstVector = 0x82,
                  kTimerVector = 0x40;
constexpr unsigned kInterruptGate = 0xe, kTrapGate = 0xf;

constexpr uint64_t stub(unsigned vector) { return kStubs + 16 * vector; }

struct Frame {
  uint64_t error = 0, rip = 0, cs = 0, rflags = 0, rsp = 0, ss = 0;
};

class OneInterrupt final : public InterruptSource {
 public:
  explicit OneInterrupt(uint8_t vector) : vector_(vector) {}
  bool has_pending_interrupt() const override { return pending_; }
  uint8_t acknowledge_interrupt() override {
    pending_ = false;
    return vector_;
  }

 private:
  uint8_t vector_;
  bool pending_ = true;
};

class VcpuExceptionTest : public ::testing::Test {
 protected:
  VcpuExceptionTest() { rebuild(); }

  // A fresh machine in ring 3 (a halted vCPU only wakes for an interrupt).
  void rebuild() {
    vm_ = std::make_unique<FlatVm>(3);
    vm_->map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_->map(kStubs, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_->map(kSyscallEntry, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm_->map(kIdt, 0x3000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kRsp0 - 0x1000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kIst1 - 0x1000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kUserRsp - 0x1000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm_->map(kReadOnly, 0x1000, FlatVm::kRead);

    const Bytes hlt(0x1000, 0xf4);
    vm_->write(kStubs, hlt.data(), hlt.size());
    for (unsigned v = 0; v < 256; ++v) set_gate(v, kInterruptGate, 0, 0);
    set_gate(kVecBp, kInterruptGate, 3, 0);
    set_gate(kTrapVector, kTrapGate, 3, 0);
    set_gate(kVecDf, kInterruptGate, 0, 1);
    set_gate(kIstVector, kInterruptGate, 0, 1);

    const uint64_t gdt[8] = {0,
                             0x00af9a000000ffff,  // 0x08 kernel code, L
                             0x00cf92000000ffff,  // 0x10 kernel data
                             0,                   // 0x18 (SYSRET's 32-bit slot)
                             0x00cff2000000ffff,  // 0x23 user data
                             0x00affa000000ffff,  // 0x2b user code, L
                             0x67 | (kTss & 0xffffff) << 16 | uint64_t{0x8b} << 40,  // busy TSS
                             0};
    vm_->write(kGdt, gdt, sizeof gdt);
    set_tss_stacks(kRsp0, kIst1);

    CpuState& s = state();
    s.gdtr = {kGdt, sizeof gdt - 1};
    s.idtr = {kIdt, 256 * 16 - 1};
    s.tr = kTssSel;
    s.tss_base = kTss;
    s.star = (uint64_t{0x18} << 48) | (uint64_t{kKernelCode} << 32);
    s.lstar = kSyscallEntry;
    s.fmask = kFlagIf | kFlagDf | kFlagTf;
    vm_->vcpu().set_deliver_exceptions(true);
    vm_->set_rflags(kFlagIf);
    vm_->set_gpr(kRsp, kUserRsp);
  }

  void set_gate(unsigned vector, unsigned type, unsigned dpl, unsigned ist, bool present = true,
                uint16_t selector = kKernelCode) {
    const uint64_t target = stub(vector);
    const uint64_t gate[2] = {(target & 0xffff) | uint64_t{selector} << 16 | uint64_t{ist} << 32 |
                                  uint64_t{type} << 40 | uint64_t{dpl} << 45 |
                                  uint64_t{present} << 47 | ((target >> 16) & 0xffff) << 48,
                              target >> 32};
    vm_->write(kIdt + 16 * vector, gate, sizeof gate);
  }

  void set_tss_stacks(uint64_t rsp0, uint64_t ist1) {
    vm_->write(kTss + 4, &rsp0, 8);
    vm_->write(kTss + 0x24, &ist1, 8);
  }

  void enter_ring0(uint64_t rsp) {
    state().cs = kKernelCode;
    state().ss = kKernelData;
    vm_->vcpu().set_cpl(0);
    vm_->set_gpr(kRsp, rsp);
  }

  CpuState& state() { return vm_->vcpu().state(); }

  // Runs code at kCode until a handler halts (or `stop_rip`, or the vCPU stops).
  RunOutcome run(const Bytes& code, uint64_t stop_rip = 0xdead0000) {
    vm_->write(kCode, code.data(), code.size());
    vm_->set_rip(kCode);
    return vm_->run_until(stop_rip, 100);
  }

  // The vector whose handler halted, or -1.
  int handled_vector() const {
    const uint64_t rip = vm_->rip() - 1;
    if (!vm_->vcpu().halted() || rip < kStubs || rip >= kStubs + 0x1000) return -1;
    return static_cast<int>((rip - kStubs) / 16);
  }

  Frame frame(bool has_error) {
    uint64_t words[6] = {};
    vm_->read(vm_->gpr(kRsp), words, has_error ? 48 : 40);
    Frame f;
    const uint64_t* w = words;
    if (has_error) f.error = *w++;
    f.rip = w[0];
    f.cs = w[1];
    f.rflags = w[2];
    f.rsp = w[3];
    f.ss = w[4];
    return f;
  }

  void expect_user_frame(const Frame& f, uint64_t rip) {
    EXPECT_EQ(f.rip, rip);
    EXPECT_EQ(f.cs, kUserCode);
    EXPECT_TRUE(f.rflags & kFlagIf);
    EXPECT_EQ(f.rsp, kUserRsp);
    EXPECT_EQ(f.ss, kUserData);
  }

  void expect_in_kernel() {
    EXPECT_EQ(state().cpl, 0);
    EXPECT_EQ(state().cs, kKernelCode);
  }

  std::unique_ptr<FlatVm> vm_;
};

TEST_F(VcpuExceptionTest, UdFromRing3SwitchesToRsp0) {
  const RunOutcome out = run({0x0f, 0x0b});  // ud2
  EXPECT_EQ(out.message, "halted");
  ASSERT_EQ(handled_vector(), kVecUd);
  expect_in_kernel();
  EXPECT_EQ(state().ss, 0) << "a null SS with RPL 0 after a privilege change";
  EXPECT_EQ(vm_->gpr(kRsp), kRsp0 - 40);
  expect_user_frame(frame(false), kCode);
  EXPECT_FALSE(vm_->rflags() & kFlagIf) << "interrupt gate";
  EXPECT_EQ(vm_->vcpu().counters().exceptions, 1u);
}

// Handlers whose code is not mapped: every delivery succeeds (the frame is pushed), the
// handler's fetch faults at once, and no instruction ever retires again, so virtual time
// stands still. The VM stops, as for a triple fault, instead of hanging the host thread.
TEST_F(VcpuExceptionTest, DeliveryWithoutProgressStopsTheVm) {
  for (unsigned v : {unsigned{kVecUd}, unsigned{kVecPf}, unsigned{kVecDf}}) {
    const uint64_t target = kUnmapped;
    const uint64_t gate[2] = {(target & 0xffff) | uint64_t{kKernelCode} << 16 |
                                  uint64_t{v == kVecDf ? 1u : 0u} << 32 | uint64_t{0xe} << 40 |
                                  uint64_t{1} << 47 | ((target >> 16) & 0xffff) << 48,
                              target >> 32};
    vm_->write(kIdt + 16 * v, gate, sizeof gate);
  }
  vm_->write(kCode, Bytes{0x0f, 0x0b}.data(), 2);  // ud2
  vm_->set_rip(kCode);
  const RunResult r = vm_->vcpu().run(1000);
  EXPECT_EQ(r.reason, StopReason::kStopped);
  EXPECT_EQ(r.retired, 0u);
  EXPECT_NE(vm_->vcpu().stop_message().find("exception delivery makes no progress"),
            std::string::npos)
      << vm_->vcpu().stop_message();
}

TEST_F(VcpuExceptionTest, DivideErrorPushesTheFaultingInstruction) {
  vm_->set_gpr(kRcx, 0);
  run({0x90, 0x48, 0xf7, 0xf1});  // nop; div rcx
  ASSERT_EQ(handled_vector(), kVecDe);
  expect_user_frame(frame(false), kCode + 1);
}

TEST_F(VcpuExceptionTest, GpCarriesTheSelectorAsErrorCode) {
  vm_->set_gpr(kRax, kKernelData);
  run({0x8e, 0xd8});  // mov ds, eax: DPL 0 data from ring 3
  ASSERT_EQ(handled_vector(), kVecGp);
  EXPECT_EQ(vm_->gpr(kRsp), kRsp0 - 48);
  const Frame f = frame(true);
  EXPECT_EQ(f.error, kKernelData);
  expect_user_frame(f, kCode);
  EXPECT_EQ(state().ds, 0) << "the faulting MOV changed nothing";
}

TEST_F(VcpuExceptionTest, PrivilegedInstructionInRing3IsGp0) {
  run({0xf4});  // hlt
  ASSERT_EQ(handled_vector(), kVecGp);
  const Frame f = frame(true);
  EXPECT_EQ(f.error, 0u);
  expect_user_frame(f, kCode);
}

TEST_F(VcpuExceptionTest, PageFaultReportsAddressAndErrorCode) {
  run({0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x80, 0x00});  // mov rax, [0x800000]
  ASSERT_EQ(handled_vector(), kVecPf);
  Frame f = frame(true);
  EXPECT_EQ(f.error, kPfUser);
  EXPECT_EQ(state().cr2, 0x800000u);
  expect_user_frame(f, kCode);

  rebuild();
  vm_->set_gpr(kRdi, kReadOnly + 8);
  run({0x48, 0x89, 0x07});  // mov [rdi], rax
  ASSERT_EQ(handled_vector(), kVecPf);
  f = frame(true);
  EXPECT_EQ(f.error, kPfPresent | kPfWrite | kPfUser);
  EXPECT_EQ(state().cr2, kReadOnly + 8);
}

TEST_F(VcpuExceptionTest, Ring0FaultStaysOnTheAlignedCurrentStack) {
  enter_ring0(kRsp0 - 0x7f8);
  run({0x0f, 0x0b});
  ASSERT_EQ(handled_vector(), kVecUd);
  EXPECT_EQ(vm_->gpr(kRsp), kRsp0 - 0x800 - 40) << "aligned down to 16 bytes first";
  const Frame f = frame(false);
  EXPECT_EQ(f.cs, kKernelCode);
  EXPECT_EQ(f.rsp, kRsp0 - 0x7f8);
  EXPECT_EQ(f.ss, kKernelData);
  EXPECT_EQ(state().ss, kKernelData) << "no privilege change, no new SS";
}

TEST_F(VcpuExceptionTest, IstGateUsesItsOwnStack) {
  enter_ring0(kRsp0 - 0x100);
  run({0xcd, kIstVector});  // int 0x82
  ASSERT_EQ(handled_vector(), kIstVector);
  EXPECT_EQ(vm_->gpr(kRsp), kIst1 - 40);
  const Frame f = frame(false);
  EXPECT_EQ(f.rip, kCode + 2) << "INT n is a trap";
  EXPECT_EQ(f.rsp, kRsp0 - 0x100);
}

TEST_F(VcpuExceptionTest, TrapGateKeepsIf) {
  run({0xcd, kTrapVector});
  ASSERT_EQ(handled_vector(), kTrapVector);
  EXPECT_TRUE(vm_->rflags() & kFlagIf) << "trap gate";
  expect_user_frame(frame(false), kCode + 2);
}

TEST_F(VcpuExceptionTest, Int3IsATrapThroughADpl3Gate) {
  run({0xcc});
  ASSERT_EQ(handled_vector(), kVecBp);
  expect_user_frame(frame(false), kCode + 1);
  EXPECT_FALSE(vm_->rflags() & kFlagIf);
}

TEST_F(VcpuExceptionTest, SoftwareInterruptThroughAKernelGateIsGp) {
  run({0xcd, kKernelOnlyVector});
  ASSERT_EQ(handled_vector(), kVecGp);
  const Frame f = frame(true);
  EXPECT_EQ(f.error, kKernelOnlyVector * 8u + 2u) << "IDT flag, EXT clear: a software event";
  expect_user_frame(f, kCode);
}

TEST_F(VcpuExceptionTest, VectorBeyondTheIdtLimitIsGp) {
  state().idtr.limit = kKernelOnlyVector * 16 - 1;
  run({0xcd, kIstVector});
  ASSERT_EQ(handled_vector(), kVecGp);
  EXPECT_EQ(frame(true).error, kIstVector * 8u + 2u);
}

TEST_F(VcpuExceptionTest, AbsentGateOfABenignExceptionGivesNp) {
  set_gate(kVecUd, kInterruptGate, 0, 0, /*present=*/false);
  run({0x0f, 0x0b});
  ASSERT_EQ(handled_vector(), kVecNp);
  const Frame f = frame(true);
  EXPECT_EQ(f.error, kVecUd * 8u + 3u) << "IDT and EXT flags";
  expect_user_frame(f, kCode);
}

TEST_F(VcpuExceptionTest, GateWithADataSelectorIsGp) {
  set_gate(kVecUd, kInterruptGate, 0, 0, true, kKernelData);
  run({0x0f, 0x0b});
  ASSERT_EQ(handled_vector(), kVecGp);
  EXPECT_EQ(frame(true).error, kKernelData | 1u);
}

TEST_F(VcpuExceptionTest, ContributoryFaultDeliveringGpIsDoubleFault) {
  set_gate(kVecGp, kInterruptGate, 0, 0, /*present=*/false);
  vm_->set_gpr(kRax, kKernelData);
  run({0x8e, 0xd8});
  ASSERT_EQ(handled_vector(), kVecDf);
  EXPECT_EQ(vm_->gpr(kRsp), kIst1 - 48) << "#DF has IST1";
  const Frame f = frame(true);
  EXPECT_EQ(f.error, 0u);
  expect_user_frame(f, kCode);
}

TEST_F(VcpuExceptionTest, UnmappedHandlerStackIsDoubleFault) {
  set_tss_stacks(kUnmapped, kIst1);
  run({0x0f, 0x0b});  // #UD, then #PF pushing its frame, then #PF again: #DF
  ASSERT_EQ(handled_vector(), kVecDf);
  EXPECT_GE(state().cr2, kUnmapped - 48);
  EXPECT_LT(state().cr2, kUnmapped);
  expect_user_frame(frame(true), kCode);
}

TEST_F(VcpuExceptionTest, TripleFaultStopsTheVcpu) {
  set_tss_stacks(kUnmapped, kUnmapped);
  const RunOutcome out = run({0x0f, 0x0b});
  EXPECT_EQ(out.kind, RunOutcome::Kind::kStopped);
  EXPECT_NE(out.message.find("triple fault"), std::string::npos) << out.message;
  EXPECT_EQ(vm_->vcpu().run(10).reason, StopReason::kStopped) << "and it stays stopped";
}

TEST_F(VcpuExceptionTest, IretqReturnsToRing3) {
  vm_->write(stub(kTrapVector), Bytes{0x48, 0xcf}.data(), 2);  // the handler is IRETQ
  vm_->set_rflags(kFlagIf | kFlagCf);
  const RunOutcome out = run({0xcd, kTrapVector, 0x90}, kCode + 2);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message;
  EXPECT_EQ(state().cpl, 3);
  EXPECT_EQ(state().cs, kUserCode);
  EXPECT_EQ(state().ss, kUserData);
  EXPECT_EQ(vm_->gpr(kRsp), kUserRsp);
  EXPECT_EQ(vm_->rflags(), kFlagFixed1 | kFlagIf | kFlagCf);
}

TEST_F(VcpuExceptionTest, IretqFromRing3CannotEnterRing0) {
  const uint64_t forged[5] = {kCode + 0x40, kKernelCode, kFlagIf, kUserRsp, kKernelData};
  vm_->write(kUserRsp - 40, forged, sizeof forged);
  vm_->set_gpr(kRsp, kUserRsp - 40);
  run({0x48, 0xcf});
  ASSERT_EQ(handled_vector(), kVecGp);
  const Frame f = frame(true);
  EXPECT_EQ(f.error, kKernelCode);
  EXPECT_EQ(f.rip, kCode);
  EXPECT_EQ(f.rsp, kUserRsp - 40) << "the faulting IRETQ popped nothing";
}

TEST_F(VcpuExceptionTest, IretqToRing3ChecksCodeAndStackSegments) {
  struct Case {
    uint64_t cs, ss, error;
  };
  for (const Case& c : {Case{kUserData, kUserData, kUserData & ~3u},     // CS is data
                        Case{kUserCode, kKernelData, kKernelData},       // SS RPL 0
                        Case{kUserCode, 0x2b, 0x28},                    // SS is code
                        Case{kUserCode, 0, 0}}) {                        // null SS in ring 3
    SCOPED_TRACE(c.ss);
    rebuild();
    enter_ring0(kRsp0 - 0x200);
    const uint64_t forged[5] = {kCode + 0x40, c.cs, kFlagIf, kUserRsp, c.ss};
    vm_->write(kRsp0 - 0x200, forged, sizeof forged);
    run({0x48, 0xcf});
    ASSERT_EQ(handled_vector(), kVecGp);
    EXPECT_EQ(frame(true).error, c.error);
    EXPECT_EQ(state().cpl, 0);
  }
}

TEST_F(VcpuExceptionTest, SyscallSysretRoundTrip) {
  vm_->write(kSyscallEntry, Bytes{0x48, 0x0f, 0x07}.data(), 3);  // sysretq
  vm_->set_rflags(kFlagIf | kFlagDf | kFlagCf);
  vm_->write(kCode, Bytes{0x0f, 0x05, 0x90}.data(), 3);  // syscall; nop
  vm_->set_rip(kCode);
  ASSERT_EQ(vm_->run_until(kSyscallEntry, 5).kind, RunOutcome::Kind::kReachedStop);
  expect_in_kernel();
  EXPECT_EQ(state().ss, kKernelData);
  EXPECT_EQ(vm_->gpr(kRcx), kCode + 2);
  EXPECT_EQ(vm_->gpr(kR11), kFlagFixed1 | kFlagIf | kFlagDf | kFlagCf);
  EXPECT_EQ(vm_->rflags(), kFlagFixed1 | kFlagCf) << "FMASK cleared IF and DF";
  EXPECT_EQ(vm_->gpr(kRsp), kUserRsp) << "SYSCALL does not switch stacks";

  ASSERT_EQ(vm_->run_until(kCode + 2, 5).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cpl, 3);
  EXPECT_EQ(state().cs, kUserCode);
  EXPECT_EQ(state().ss, kUserData);
  EXPECT_EQ(vm_->rflags(), kFlagFixed1 | kFlagIf | kFlagDf | kFlagCf);
}

TEST_F(VcpuExceptionTest, SysretToNonCanonicalRcxFaultsInRing0) {
  enter_ring0(kRsp0 - 0x100);
  vm_->set_gpr(kRcx, 0x0000'8000'0000'0000);
  run({0x48, 0x0f, 0x07});
  ASSERT_EQ(handled_vector(), kVecGp);
  const Frame f = frame(true);
  EXPECT_EQ(f.cs, kKernelCode) << "raised in ring 0, not in ring 3";
  EXPECT_EQ(f.rip, kCode);
}

TEST_F(VcpuExceptionTest, StiShadowCoversOneInstruction) {
  OneInterrupt timer(kTimerVector);
  vm_->vcpu().set_interrupt_source(&timer);
  enter_ring0(kRsp0 - 0x100);
  vm_->set_rflags(0);
  vm_->write(kCode, Bytes{0xfb, 0x90, 0x90, 0xf4}.data(), 4);  // sti; nop; nop; hlt
  vm_->set_rip(kCode);
  EXPECT_EQ(vm_->vcpu().run(100).reason, StopReason::kHalted);
  ASSERT_EQ(handled_vector(), kTimerVector);
  EXPECT_EQ(frame(false).rip, kCode + 2) << "taken after the one instruction STI shadows";
}

TEST_F(VcpuExceptionTest, StiHltWakesForAPendingInterrupt) {
  OneInterrupt timer(kTimerVector);
  vm_->vcpu().set_interrupt_source(&timer);
  enter_ring0(kRsp0 - 0x100);
  vm_->set_rflags(0);
  vm_->write(kCode, Bytes{0xfb, 0xf4, 0xfa}.data(), 3);  // sti; hlt; cli
  vm_->set_rip(kCode);
  EXPECT_EQ(vm_->vcpu().run(100).reason, StopReason::kHalted);
  ASSERT_EQ(handled_vector(), kTimerVector);
  EXPECT_EQ(frame(false).rip, kCode + 2) << "the HLT completed, then the interrupt came";
  EXPECT_EQ(vm_->vcpu().counters().interrupts, 1u);
}

TEST_F(VcpuExceptionTest, PopfSettingIfTakesAPendingInterruptAtOnce) {
  OneInterrupt timer(kTimerVector);
  vm_->vcpu().set_interrupt_source(&timer);
  enter_ring0(kRsp0 - 0x100);
  vm_->set_rflags(0);
  // push 0x202; popfq; nop; nop; hlt
  vm_->write(kCode, Bytes{0x68, 0x02, 0x02, 0x00, 0x00, 0x9d, 0x90, 0x90, 0xf4}.data(), 9);
  vm_->set_rip(kCode);
  EXPECT_EQ(vm_->vcpu().run(100).reason, StopReason::kHalted);
  ASSERT_EQ(handled_vector(), kTimerVector);
  EXPECT_EQ(frame(false).rip, kCode + 6);
}

TEST_F(VcpuExceptionTest, InterruptsWaitWhileIfIsClear) {
  OneInterrupt timer(kTimerVector);
  vm_->vcpu().set_interrupt_source(&timer);
  enter_ring0(kRsp0 - 0x100);
  vm_->set_rflags(0);
  vm_->write(kCode, Bytes{0x90, 0xf4}.data(), 2);  // nop; hlt
  vm_->set_rip(kCode);
  EXPECT_EQ(vm_->vcpu().run(100).reason, StopReason::kHalted);
  EXPECT_EQ(vm_->rip(), kCode + 2);
  EXPECT_TRUE(timer.has_pending_interrupt());
}

}  // namespace
}  // namespace densevm::cpu
