// Ring 3 never stops the VM: every instruction a user program may try raises what a CPU
// would raise (#GP(0) for privileged ones, #UD for features the vCPU does not have), and
// the ring-0 forms of the cache, fence and prefetch instructions.
#include <gtest/gtest.h>

#include "tests/support/system_insn_fixture.h"
#include "vmm/cpu/decoder.h"

namespace densevm::cpu {
namespace {

struct Case {
  Bytes code;
  uint8_t vector;
};

// The instructions issue 15 found stopping the VM from ring 3, and their neighbours.
const Case kRing3Cases[] = {
    {{0x0f, 0x09}, kVecGp},              // wbinvd
    {{0xf3, 0x0f, 0x09}, kVecGp},        // wbnoinvd (wbinvd on a CPU without it)
    {{0x0f, 0x08}, kVecGp},              // invd
    {{0x0f, 0x06}, kVecGp},              // clts
    {{0x0f, 0x23, 0xc0}, kVecGp},        // mov dr0, rax
    {{0x0f, 0x21, 0xc0}, kVecGp},        // mov rax, dr0
    {{0x0f, 0x23, 0xf8}, kVecGp},        // mov dr7, rax
    {{0x0f, 0x00, 0xd0}, kVecGp},        // lldt ax
    {{0x0f, 0x00, 0x17}, kVecGp},        // lldt [rdi]
    {{0x6c}, kVecGp},                    // insb
    {{0x6d}, kVecGp},                    // insd
    {{0x6e}, kVecGp},                    // outsb
    {{0x66, 0x6f}, kVecGp},              // outsw
    {{0xf3, 0x6e}, kVecGp},              // rep outsb
    {{0xf3, 0x6c}, kVecGp},              // rep insb
    {{0x0f, 0x01, 0xd8}, kVecUd},        // vmrun
    {{0x0f, 0x01, 0xc1}, kVecUd},        // vmcall
    {{0x0f, 0x01, 0xd9}, kVecUd},        // vmmcall
    {{0x0f, 0x01, 0xc4}, kVecUd},        // vmxoff
    {{0x0f, 0x34}, kVecUd},              // sysenter
    {{0x0f, 0x35}, kVecUd},              // sysexit
    {{0x48, 0x0f, 0x35}, kVecUd},        // sysexitq
    {{0x0f, 0x01, 0xd0}, kVecUd},        // xgetbv
    {{0x0f, 0x01, 0xd1}, kVecUd},        // xsetbv
    {{0x0f, 0xae, 0x27}, kVecUd},        // xsave [rdi]
    {{0x0f, 0x01, 0xca}, kVecUd},        // clac
    {{0x0f, 0x01, 0xcb}, kVecUd},        // stac
    {{0x0f, 0x01, 0xf9}, kVecUd},        // rdtscp
    {{0x48, 0x0f, 0xc7, 0xf0}, kVecUd},  // rdrand rax
};

TEST_F(SystemInsnTest, Ring3GetsWhatACpuRaises) {
  for (const Case& c : kRing3Cases) {
    make(3);
    vm().set_gpr(kRdi, kData);
    vm().set_gpr(kRsi, kData);
    vm().set_gpr(kRcx, 4);
    SCOPED_TRACE(disassemble(c.code.data(), c.code.size(), kCode));
    const RunOutcome out = run(c.code);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, c.vector);
    if (c.vector == kVecGp) {
      EXPECT_EQ(out.error_code, 0u);
    }
    EXPECT_EQ(vm().rip(), kCode);
    EXPECT_EQ(state().cpl, 3);
    EXPECT_EQ(vm().gpr(kRcx), 4u) << "no REP iteration ran";
    EXPECT_TRUE(vm().port_writes().empty());
    EXPECT_EQ(vm().vcpu().counters().unimplemented_ud, 0u) << "the architecture's answer";
  }
}

// Absent features are #UD in ring 0 as well: nothing advertises them.
TEST_F(SystemInsnTest, AbsentFeaturesAreUdInRing0) {
  for (const Case& c : kRing3Cases) {
    if (c.vector != kVecUd) continue;
    make(0);
    vm().set_gpr(kRdi, kData);
    SCOPED_TRACE(disassemble(c.code.data(), c.code.size(), kCode));
    const RunOutcome out = run(c.code);
    EXPECT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, kVecUd);
  }
}

TEST_F(SystemInsnTest, CacheControlAndFencesInRing0) {
  make(0);
  vm().set_gpr(kRdi, kData);
  // wbinvd; invd; lfence; mfence; sfence; clflush [rdi]; clflushopt [rdi]
  ASSERT_EQ(run({0x0f, 0x09, 0x0f, 0x08, 0x0f, 0xae, 0xe8, 0x0f, 0xae, 0xf0, 0x0f, 0xae, 0xf8,
                 0x0f, 0xae, 0x3f, 0x66, 0x0f, 0xae, 0x3f})
                .kind,
            RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(vm().vcpu().counters().retired, 7u);
}

TEST_F(SystemInsnTest, ClflushFaultsAsAByteLoad) {
  make(3);  // allowed in ring 3, with a load's checks
  vm().set_gpr(kRdi, kData);
  ASSERT_EQ(run({0x0f, 0xae, 0x3f}).kind, RunOutcome::Kind::kReachedStop);
  vm().set_gpr(kRdi, 0x900000);  // unmapped
  RunOutcome out = run({0x0f, 0xae, 0x3f});
  EXPECT_EQ(out.vector, kVecPf);
  EXPECT_EQ(out.cr2, 0x900000u);
  EXPECT_EQ(out.error_code & (kPfWrite | kPfFetch), 0u) << "a read";
  vm().set_gpr(kRdi, 0x8000'0000'0000'0000);
  expect_gp(run({0x0f, 0xae, 0x3f}));
}

TEST_F(SystemInsnTest, PrefetchesNeverFault) {
  make(3);
  for (uint64_t address : {kData, uint64_t{0x900000}, uint64_t{0x8000'0000'0000'0000}}) {
    vm().set_gpr(kRdi, address);
    // prefetcht0 [rdi]; prefetchnta [rdi]; prefetchw [rdi]; prefetcht1 [rdi]; prefetcht2 [rdi]
    ASSERT_EQ(run({0x0f, 0x18, 0x0f, 0x0f, 0x18, 0x07, 0x0f, 0x0d, 0x0f, 0x0f, 0x18, 0x17,
                   0x0f, 0x18, 0x1f})
                  .kind,
              RunOutcome::Kind::kReachedStop)
        << std::hex << address;
  }
}

TEST_F(SystemInsnTest, CltsClearsTs) {
  make(0);
  state().cr0 |= kCr0Ts;
  ASSERT_EQ(run({0x0f, 0x06}).kind, RunOutcome::Kind::kReachedStop);
  EXPECT_EQ(state().cr0 & kCr0Ts, 0u);
  EXPECT_NE(state().cr0 & kCr0Pg, 0u);
}

}  // namespace
}  // namespace densevm::cpu
