// Translated code and device memory: loads and stores to a device page reach the bus as
// the interpreter's do (same accesses, same order, same values), and a block running into
// a device page stops the VM at the same instruction with the same message.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "vmm/cpu/jit/jit_config.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

constexpr uint64_t kCodePage = 0x1000, kDataPage = 0x2000, kDevicePage = 0x3000;

// Identity translation: a code page, a data page, then device memory.
class DeviceMmu final : public Mmu {
 public:
  Translation translate(Gva va, Access, const PagingContext&) override {
    Translation t;
    const uint64_t page = va.page_base().value();
    if (page == kCodePage || page == kDataPage) {
      t.kind = Translation::Kind::kRam;
      t.host_page = page == kCodePage ? code.get() : data.get();
      t.gpa = Gpa{page};
      t.writable = t.user = t.executable = true;
    } else if (page == kDevicePage) {
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
  std::unique_ptr<uint8_t[]> data{new uint8_t[kPageSize]()};
};

struct BusAccess {
  uint64_t gpa;
  unsigned size;
  uint64_t value;
  bool write;
  bool operator==(const BusAccess&) const = default;
};

// Reads return a counter, so the guest's sums depend on every access and its order.
class RecordingBus final : public DeviceBus {
 public:
  uint32_t port_read(uint16_t, unsigned) override { return ~0u; }
  void port_write(uint16_t, unsigned, uint32_t) override {}
  uint64_t mmio_read(Gpa gpa, unsigned size) override {
    log.push_back({gpa.value(), size, 0, false});
    return 3 * log.size() + 1;
  }
  void mmio_write(Gpa gpa, unsigned size, uint64_t value) override {
    log.push_back({gpa.value(), size, value, true});
  }
  std::vector<BusAccess> log;
};

struct Machine {
  explicit Machine(bool translate) {
    CpuState& s = cpu.state();
    s.cr0 = kCr0Pe | kCr0Pg;
    s.cr4 = kCr4Pae;
    s.efer = kEferLme | kEferLma;
    cpu.set_deliver_exceptions(false);
    std::string error;
    if (translate && !cpu.enable_translation({.hot_threshold = 0}, &error)) ADD_FAILURE() << error;
  }
  void load(const std::vector<uint8_t>& code, uint64_t at) {
    std::copy(code.begin(), code.end(), mmu.code.get() + (at - kCodePage));
    cpu.invalidate_code(Gpa{kCodePage});
    cpu.state().rip = at;
  }
  DeviceMmu mmu;
  RecordingBus bus;
  PageTracking tracking{16};
  Vcpu cpu{mmu, bus, tracking};
};

TEST(TranslatorDevices, DeviceAccessesAreTheInterpretersAccesses) {
  // mov ecx,50; l: mov eax,[rdx]; add ebx,eax; mov [rdx+8],ebx; mov [rsi],ebx;
  // movzx eax, word [rdx+2]; add [rsi+8], rax; dec ecx; jnz l; ud2
  const std::vector<uint8_t> code = {0xb9, 50, 0, 0, 0, 0x8b, 0x02, 0x01, 0xc3, 0x89, 0x5a, 0x08,
                                     0x89, 0x1e, 0x0f, 0xb7, 0x42, 0x02, 0x48, 0x01, 0x46, 0x08,
                                     0xff, 0xc9, 0x75, 0xeb, 0x0f, 0x0b};
  Machine interp(false), jit(true);
  for (Machine* m : {&interp, &jit}) {
    m->load(code, kCodePage);
    m->cpu.state().gpr[kRdx] = kDevicePage + 0x40;
    m->cpu.state().gpr[kRsi] = kDataPage;
  }
  const RunResult a = interp.cpu.run(10000), b = jit.cpu.run(10000);
  EXPECT_EQ(a.reason, StopReason::kException);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.retired, b.retired);
  EXPECT_EQ(interp.bus.log.size(), 150u);
  EXPECT_TRUE(interp.bus.log == jit.bus.log);
  EXPECT_EQ(interp.cpu.state().gpr[kRbx], jit.cpu.state().gpr[kRbx]);
  EXPECT_EQ(0, std::memcmp(interp.mmu.data.get(), jit.mmu.data.get(), kPageSize));
  EXPECT_GE(jit.cpu.translation_stats().entries, 1u);
}

TEST(TranslatorDevices, ABlockRunningIntoDevicememoryFaultsAtTheSamePlace) {
  // Two pages on: code at the end of the data page (also RAM) runs into the device page, where
  // a fetch reads all-ones (FF FF: #UD, vmm/cpu/UNDEFINED.md "Memory outside RAM") in both modes.
  const std::vector<uint8_t> nops(8, 0x90);
  Machine interp(false), jit(true);
  for (Machine* m : {&interp, &jit}) {
    std::copy(nops.begin(), nops.end(), m->mmu.data.get() + kPageSize - nops.size());
    m->cpu.state().rip = kDataPage + kPageSize - nops.size();
  }
  const RunResult a = interp.cpu.run(100), b = jit.cpu.run(100);
  EXPECT_EQ(a.reason, StopReason::kException);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.retired, 8u);
  EXPECT_EQ(a.retired, b.retired);
  EXPECT_EQ(interp.cpu.last_exception().vector, kVecUd);
  EXPECT_EQ(jit.cpu.last_exception().vector, kVecUd);
  EXPECT_EQ(interp.cpu.state().rip, kDevicePage);
  EXPECT_EQ(interp.cpu.state().rip, jit.cpu.state().rip);
}

}  // namespace
}  // namespace densevm::cpu
