// Memory outside RAM (vmm/cpu/UNDEFINED.md, "Memory outside RAM") on every path of every MMU
// mode: a guest table outside RAM (CR3 itself, or a PDPT, PD or PT) reads as all-ones, whose
// reserved bits end the walk in #PF(P, RSVD); a 1 GiB, 2 MiB or 4 KiB page outside RAM is
// device space for the bus (which reads all-ones and ignores writes where no device is).
// Never a stopped VM.
#include <gtest/gtest.h>

#include "mmu/hybrid_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/testing/test_guest.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

// Device space, the end of RAM, far beyond it, and the last page under MAXPHYADDR.
constexpr uint64_t kOutside[] = {0xfee0'0000, 0xd000'0000, TestGuest::kRamBytes, uint64_t{1} << 40,
                                 (uint64_t{1} << kGuestMaxPhysAddrBits) - (uint64_t{1} << 30)};

class OutsideRam : public ::testing::TestWithParam<PagingMode> {
 protected:
  void TearDown() override {
    const std::vector<std::string> problems = check_shadow(mmu_.shadow());
    EXPECT_TRUE(problems.empty()) << problems.front();
  }
  // Every access, at CPL 0 and 3, twice (a fill, then a hit or the same miss again).
  void expect_reserved_fault(uint64_t va, const PagingContext& base) {
    for (const bool user : {false, true}) {
      PagingContext c = base;
      c.user = user;
      for (const Access a : {Access::kRead, Access::kWrite, Access::kExec}) {
        for (int repeat = 0; repeat < 2; ++repeat) {
          const Translation t = mmu_.translate(Gva{va}, a, c);
          ASSERT_EQ(t.kind, Translation::Kind::kPageFault) << std::hex << va << " " << t.reason;
          const uint32_t expected = kPfPresent | kPfReserved | (a == Access::kWrite ? kPfWrite : 0) |
                                    (user ? kPfUser : 0) | (a == Access::kExec ? kPfFetch : 0);
          EXPECT_EQ(t.error_code, expected) << std::hex << va;
        }
      }
    }
  }
  void expect_device_space(uint64_t va, uint64_t gpa) {
    for (const Access a : {Access::kRead, Access::kWrite, Access::kExec}) {
      for (int repeat = 0; repeat < 2; ++repeat) {
        const Translation t = mmu_.translate(Gva{va}, a, g_.ctx(/*user=*/true));
        ASSERT_EQ(t.kind, Translation::Kind::kMmio) << std::hex << va << " " << t.reason;
        EXPECT_EQ(t.gpa.value(), gpa) << std::hex << va;
      }
    }
  }

  TestGuest g_;
  HybridMmu mmu_{g_.memory, g_.tracking, GetParam()};
};

TEST_P(OutsideRam, RootTableReadsAllOnes) {
  for (const uint64_t root : kOutside) {
    PagingContext c = g_.ctx();
    c.cr3 = root;
    mmu_.cr3_loaded(c);
    expect_reserved_fault(0x1000, c);
  }
}

TEST_P(OutsideRam, TablesAtEveryLevelReadAllOnes) {
  uint64_t va = uint64_t{1} << 39;
  for (const uint64_t table : kOutside) {
    for (unsigned level = 4; level >= 2; --level) {
      // The entry at `level` links to a table outside RAM: the next level reads all-ones.
      g_.map(va, 0, kP | kW | kU, 1);
      g_.poke(g_.entry_gpa(va, level), table | kP | kW | kU);
      expect_reserved_fault(va, g_.ctx());
      va += uint64_t{1} << 39;
    }
  }
  // The guest's A/D updates to such tables go nowhere, and RAM is untouched: the next walk
  // reads all-ones again (above, twice per access).
}

TEST_P(OutsideRam, PagesOfEverySizeAreDeviceSpace) {
  uint64_t va = uint64_t{1} << 39;
  for (const uint64_t frame : kOutside) {
    for (const unsigned level : {1u, 2u, 3u}) {
      const uint64_t size = uint64_t{1} << (12 + 9 * (level - 1));
      const uint64_t base = frame & ~(size - 1);
      if (base < TestGuest::kRamBytes && frame >= TestGuest::kRamBytes) continue;  // would cover RAM
      g_.map(va, base, kP | kW | kU, level);
      expect_device_space(va + 0x10, base + 0x10);
      va += uint64_t{1} << 39;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, OutsideRam,
                         ::testing::Values(PagingMode::kShadow, PagingMode::kEpt, PagingMode::kAuto),
                         [](const ::testing::TestParamInfo<PagingMode>& p) {
                           return std::string(paging_mode_name(p.param));
                         });

}  // namespace
}  // namespace densevm
