// What a TLB flush means to the MMU behind the soft TLB (SDM Vol 3A §4.10.4.1): a CR3 load
// and any CR4 write (a PGE toggle is how Linux flushes global kernel mappings) are full
// flushes, so a shadow MMU must resync its out-of-sync tables on both.
#include <gtest/gtest.h>

#include "vmm/cpu/cpuid.h"
#include "tests/support/null_bus.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

struct CountingMmu final : Mmu {
  Translation translate(Gva, Access, const PagingContext&) override { return {}; }
  void invlpg(Gva, const PagingContext&) override { ++invlpgs; }
  void cr3_loaded(const PagingContext& ctx) override {
    ++full_flushes;
    last_cr3 = ctx.cr3;
  }
  const char* mode_name() const override { return "counting"; }
  int full_flushes = 0, invlpgs = 0;
  uint64_t last_cr3 = 0;
};

TEST(VcpuFlush, Cr4WritesAreFullFlushesForTheMmu) {
  CountingMmu mmu;
  densevm::testing::NullBus bus;
  PageTracking tracking(16);
  Vcpu v(mmu, bus, tracking);
  v.state().cr0 = kCr0Pe | kCr0Pg;
  v.state().cr3 = 0x5000;
  v.write_cr4(kCr4Pae | kCr4Pge);
  v.write_cr4(kCr4Pae);  // PGE toggled off: globals go too
  EXPECT_EQ(mmu.full_flushes, 2);
  EXPECT_EQ(mmu.last_cr3, 0x5000u) << "same address space, flushed";
  v.write_cr3(0x6000);
  EXPECT_EQ(mmu.full_flushes, 3);
  EXPECT_EQ(v.counters().cr3_loads, 1u) << "CR4 writes are not counted as CR3 loads";
}

}  // namespace
}  // namespace densevm::cpu
