// Guest accesses to device memory wider than 8 bytes (SGDT's 10-byte store, IRETQ's 40-byte
// frame) reach the bus as pieces of at most 8 bytes. Found by fuzz_paging_vm: before, the
// vCPU copied all of them through one 8-byte variable (a host stack overflow under ASan).
// Instruction fetches outside RAM read all-ones and never reach the bus (UNDEFINED.md,
// "Memory outside RAM").
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

constexpr uint64_t kCodePage = 0x1000, kAfterCode = 0x2000, kDevicePage = 0xd0000000;

// Identity translation: one RAM page of code, two device pages (one right after the code),
// nothing else.
class DeviceMmu final : public Mmu {
 public:
  Translation translate(Gva va, Access, const PagingContext&) override {
    Translation t;
    if (va.page_base().value() == kCodePage) {
      t.kind = Translation::Kind::kRam;
      t.host_page = code.get();
      t.gpa = Gpa{kCodePage};
      t.writable = t.user = t.executable = true;
    } else if (va.page_base().value() == kDevicePage || va.page_base().value() == kAfterCode) {
      t.kind = Translation::Kind::kMmio;
      t.gpa = Gpa{va.value()};
    } else {
      t.kind = Translation::Kind::kPageFault;
    }
    return t;
  }
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  const char* mode_name() const override { return "device"; }

  std::unique_ptr<uint8_t[]> code{new uint8_t[kPageSize]()};
};

struct BusAccess {
  uint64_t gpa;
  unsigned size;
  uint64_t value;
  bool write;
};

class RecordingBus final : public DeviceBus {
 public:
  uint32_t port_read(uint16_t, unsigned) override { return ~0u; }
  void port_write(uint16_t, unsigned, uint32_t) override {}
  uint64_t mmio_read(Gpa gpa, unsigned size) override {
    log.push_back({gpa.value(), size, 0, false});
    return 0x1111111111111111 * (log.size() % 16);
  }
  void mmio_write(Gpa gpa, unsigned size, uint64_t value) override {
    log.push_back({gpa.value(), size, value, true});
  }
  std::vector<BusAccess> log;
};

class VcpuMmioTest : public ::testing::Test {
 protected:
  VcpuMmioTest() {
    CpuState& s = cpu_.state();
    s.cr0 = kCr0Pe | kCr0Pg;
    s.cr4 = kCr4Pae;
    s.efer = kEferLme | kEferLma;
    cpu_.set_deliver_exceptions(false);
  }
  RunResult run(const std::vector<uint8_t>& code) {
    std::copy(code.begin(), code.end(), mmu_.code.get());
    cpu_.invalidate_code(Gpa{kCodePage});
    cpu_.state().rip = kCodePage;
    return cpu_.run(1);
  }
  DeviceMmu mmu_;
  RecordingBus bus_;
  PageTracking tracking_{16};
  Vcpu cpu_{mmu_, bus_, tracking_};
};

TEST_F(VcpuMmioTest, SgdtToDeviceMemoryIsTwoBusWrites) {
  cpu_.state().gdtr = {0x1122334455667788, 0xabcd};
  cpu_.state().gpr[kRax] = kDevicePage + 0x10;
  ASSERT_EQ(run({0x0f, 0x01, 0x00}).retired, 1u);  // sgdt [rax]
  ASSERT_EQ(bus_.log.size(), 2u);
  EXPECT_TRUE(bus_.log[0].write);
  EXPECT_EQ(bus_.log[0].gpa, kDevicePage + 0x10);
  EXPECT_EQ(bus_.log[0].size, 8u);
  EXPECT_EQ(bus_.log[0].value, 0x334455667788abcdu);  // limit, then the base's low bytes
  EXPECT_EQ(bus_.log[1].gpa, kDevicePage + 0x18);
  EXPECT_EQ(bus_.log[1].size, 2u);
  EXPECT_EQ(bus_.log[1].value, 0x1122u);
}

TEST_F(VcpuMmioTest, CodeOutsideRamIsAllOnesAndRaisesUd) {
  for (const uint64_t rip : {kDevicePage, kDevicePage + 0x123, kAfterCode}) {
    cpu_.state().rip = rip;
    const RunResult r = cpu_.run(1);
    EXPECT_EQ(r.reason, StopReason::kException) << std::hex << rip;
    EXPECT_EQ(r.retired, 0u);
    EXPECT_EQ(cpu_.last_exception().vector, kVecUd);
    EXPECT_FALSE(cpu_.last_exception().has_error);
    EXPECT_EQ(cpu_.state().rip, rip) << "#UD is a fault: RIP at the instruction";
  }
  EXPECT_TRUE(bus_.log.empty()) << "a fetch never reaches a device";
}

TEST_F(VcpuMmioTest, InstructionRunningIntoDeviceSpaceTakesAllOnesBytes) {
  mmu_.code[kPageSize - 1] = 0xb8;  // mov eax, imm32: the immediate is on the device page
  cpu_.invalidate_code(Gpa{kCodePage});
  cpu_.state().rip = kCodePage + kPageSize - 1;
  const RunResult r = cpu_.run(1);
  ASSERT_EQ(r.retired, 1u);
  EXPECT_EQ(cpu_.state().gpr[kRax], 0xffffffffu);
  EXPECT_EQ(cpu_.state().rip, kAfterCode + 4);
  EXPECT_TRUE(bus_.log.empty()) << "a fetch never reaches a device";
}

TEST_F(VcpuMmioTest, IretqFrameFromDeviceMemoryIsFiveBusReads) {
  cpu_.state().gpr[kRsp] = kDevicePage + 0x100;
  const RunResult r = run({0x48, 0xcf});  // iretq: CS reads 0x2222...: not a valid selector
  EXPECT_EQ(r.reason, StopReason::kException);
  ASSERT_EQ(bus_.log.size(), 5u);
  for (unsigned i = 0; i < 5; ++i) {
    EXPECT_FALSE(bus_.log[i].write);
    EXPECT_EQ(bus_.log[i].gpa, kDevicePage + 0x100 + 8 * i);
    EXPECT_EQ(bus_.log[i].size, 8u);
  }
}

}  // namespace
}  // namespace densevm::cpu
