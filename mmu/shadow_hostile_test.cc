// Hostile guest tables: pointing anywhere, looping, living in MMIO space, full of junk. The
// shadow must never crash nor reach frames outside the VM's P2M, and must agree with the
// nested walk (which only ever reads guest tables through the P2M).
#include <gtest/gtest.h>

#include <random>

#include "mmu/nested_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/shadow_mmu.h"
#include "mmu/testing/test_guest.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

class ShadowHostileTest : public ::testing::Test {
 protected:
  void TearDown() override {
    const std::vector<std::string> problems = check_shadow(mmu_);
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  // Both Mmus, every access kind, twice (fill, then hit): same outcome, page and error.
  void expect_agree(uint64_t va, const PagingContext& c) {
    for (const Access a : {Access::kRead, Access::kWrite, Access::kExec}) {
      for (int repeat = 0; repeat < 2; ++repeat) {
        const Translation s = mmu_.translate(Gva{va}, a, c);
        const Translation n = nested_.translate(Gva{va}, a, c);
        ASSERT_EQ(static_cast<int>(s.kind), static_cast<int>(n.kind))
            << std::hex << va << " " << s.reason << " / " << n.reason;
        EXPECT_EQ(s.host_page, n.host_page) << std::hex << va;
        EXPECT_EQ(s.error_code, n.error_code) << std::hex << va;
        EXPECT_EQ(s.reason, n.reason) << std::hex << va;
        if (s.kind == Translation::Kind::kRam) {
          EXPECT_TRUE(g_.frames.owns(s.host_page));
          EXPECT_TRUE(g_.memory.mapping(s.gpa).has_value()) << "a frame of this VM";
        }
      }
    }
  }

  TestGuest g_;
  ShadowMmu mmu_{g_.memory, g_.tracking};
  NestedMmu nested_{g_.memory, g_.tracking};
};

// A root outside RAM reads as all-ones (UNDEFINED.md, "Memory outside RAM"): #PF(P, RSVD),
// and nothing is shadowed.
TEST_F(ShadowHostileTest, RootInMmioSpaceReadsAllOnes) {
  PagingContext c = g_.ctx();
  c.cr3 = 0xFEC0'0000;
  const Translation t = mmu_.translate(Gva{0x1000}, Access::kRead, c);
  EXPECT_EQ(t.kind, Translation::Kind::kPageFault) << t.reason;
  EXPECT_EQ(t.error_code, kPfPresent | kPfReserved);
  EXPECT_EQ(mmu_.stats().tables_live, 0u);
  expect_agree(0x1000, c);
}

TEST_F(ShadowHostileTest, TablesPointingOutsideRamOrAboveMaxPhysAddr) {
  g_.poke(g_.cr3, 0xFEE0'0000 | kP | kW);                          // PDPT in the APIC page
  g_.poke(g_.cr3 + 8, (uint64_t{1} << 45) | kP | kW);               // beyond RAM
  g_.poke(g_.cr3 + 16, (uint64_t{1} << 50) | kP | kW);              // above MAXPHYADDR
  g_.poke(g_.cr3 + 24, 0x5000 | kP | kW | kPs);                     // PS in a PML4E
  for (uint64_t i = 0; i < 4; ++i) expect_agree((i << 39) | 0x123, g_.ctx());
}

TEST_F(ShadowHostileTest, RecursiveAndLoopingTablesAreHarmless) {
  g_.poke(g_.cr3 + 511 * 8, g_.cr3 | kP | kW);  // PML4[511] -> PML4: the classic self-map
  g_.poke(g_.cr3 + 8, g_.cr3 | kP | kW);        // PML4[1] -> PML4 as a PDPT, PD and PT
  g_.map(0x1000, TestGuest::data_page(0), kP | kW);
  const uint64_t self = 0xFFFF'FFFF'FFFF'F000;  // four times through entry 511: the PML4 itself
  expect_agree(self, g_.ctx());
  expect_agree((uint64_t{1} << 39) | (uint64_t{1} << 30) | (uint64_t{1} << 21) | 0x1000, g_.ctx());
  expect_agree(0x1000, g_.ctx());
  // The guest edits its PML4 through the self-map: a tracked write like any other.
  const Translation w = mmu_.translate(Gva{self + 8}, Access::kWrite, g_.ctx());
  ASSERT_EQ(w.kind, Translation::Kind::kRam);
  EXPECT_TRUE(w.write_tracked);
  const uint64_t zero = 0;
  std::memcpy(w.host_page + 8, &zero, sizeof zero);
  mmu_.on_tracked_write(w.gpa + 8, 8);
  expect_agree((uint64_t{1} << 39) | (uint64_t{1} << 30) | (uint64_t{1} << 21) | 0x1000, g_.ctx());
  expect_agree(self, g_.ctx());
}

TEST_F(ShadowHostileTest, JunkTablesAgreeWithTheNestedWalk) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> tables{g_.cr3};
  for (int i = 0; i < 6; ++i) tables.push_back(g_.new_table());
  for (const uint64_t t : tables) {
    for (uint64_t i = 0; i < 8; ++i) {
      uint64_t e = rng();
      if (rng() % 2) e = (e & 0xFFF) | tables[rng() % tables.size()];  // a plausible table
      if (rng() % 3 == 0) e &= ~(uint64_t{0xFFFF} << 48);              // mostly no reserved
      g_.poke(t + i * 8, e);
    }
  }
  for (int n = 0; n < 300; ++n) {
    uint64_t va = 0;
    for (unsigned level = 4; level >= 1; --level) va |= (rng() % 8) << (12 + 9 * (level - 1));
    PagingContext c = g_.ctx(rng() % 2 == 0);
    c.nxe = rng() % 4 != 0;
    ASSERT_NO_FATAL_FAILURE(expect_agree(va, c));
  }
}

}  // namespace
}  // namespace densevm
