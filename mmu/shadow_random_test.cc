// Randomized equivalence: guest tables are rewritten at random (map, unmap, remap, change
// rights, reuse a table page as data, point into MMIO or beyond RAM, EPT unmap/protect, all
// of RAM made copy-on-write as a checkpoint does), and after every step ShadowMmu and
// NestedMmu must agree on every address, and the checker must find the shadow consistent.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "mmu/nested_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/shadow_mmu.h"
#include "mmu/testing/test_guest.h"

namespace densevm {
namespace {

using namespace densevm::testing;  // NOLINT: test vocabulary (kP, kW, ...)

constexpr int kTablePages = 12;
constexpr int kDataPages = 8;

class ShadowRandomTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    const bool unsync = GetParam() % 2 == 1;
    config_.unsync_after_writes = unsync ? 2 : 0;
    config_.flood_after_writes = unsync ? 3 : 5;
    config_.max_roots = 2 + GetParam() % 2;
    mmu_ = std::make_unique<ShadowMmu>(g_.memory, g_.tracking, config_);
    roots_ = {g_.cr3, g_.new_table()};
    for (int i = 2; i < kTablePages; ++i) pool_.push_back(g_.new_table());
    pool_.push_back(roots_[0]);
    pool_.push_back(roots_[1]);
    // Addresses whose indices collide at every level, in both halves of the address space.
    for (uint64_t i4 : {0ull, 1ull, 256ull}) {
      for (uint64_t i3 : {0ull, 1ull}) {
        for (uint64_t i2 : {0ull, 1ull}) {
          for (uint64_t i1 : {0ull, 1ull, 2ull}) {
            uint64_t va = (i4 << 39) | (i3 << 30) | (i2 << 21) | (i1 << 12);
            if (va & (uint64_t{1} << 47)) va |= 0xFFFF'0000'0000'0000;
            vas_.push_back(va + 0x18);
          }
        }
      }
    }
    // Seed both roots with a few real paths.
    for (int i = 0; i < 6; ++i) {
      g_.map(vas_[i * 5] & ~kPageMask, TestGuest::data_page(i), kP | kW | kU, 1,
             kP | kW | kU, roots_[i % 2]);
    }
  }

  uint64_t random_target() {
    switch (rng_() % 8) {
      case 0: case 1: case 2: return pool_[rng_() % pool_.size()];
      case 3: case 4: case 5: return TestGuest::data_page(rng_() % kDataPages);
      case 6: return 0xFEC0'0000;                      // MMIO window
      default: return (uint64_t{1} << 40) + 0x1000;     // beyond RAM, below MAXPHYADDR
    }
  }

  uint64_t random_entry() {
    if (rng_() % 5 == 0) return 0;  // unmap
    uint64_t e = random_target() | kP;
    for (const uint64_t bit : {kW, kU, kA, kD}) {
      if (rng_() % 3 != 0) e |= bit;
    }
    if (rng_() % 6 == 0) e |= kXd;
    if (rng_() % 8 == 0) e |= kPs;
    if (rng_() % 40 == 0) e |= uint64_t{1} << 48;  // reserved above MAXPHYADDR
    return e;
  }

  void step() {
    if (checkpoint_rng_() % 64 == 0) {  // EPT: all of RAM copy-on-write, as a checkpoint does
      g_.memory.write_protect_all();
      ++restrictions_;
    }
    const uint64_t op = rng_() % 20;
    if (op < 12) {  // rewrite 1-3 entries of a table page at indices the addresses use
      const uint64_t table = pool_[rng_() % pool_.size()];
      for (uint64_t n = 1 + rng_() % 3; n > 0; --n) {
        const uint64_t index = (rng_() % 3 == 0) ? 256 : rng_() % 3;
        g_.guest_write(table + index * 8, random_entry(), *mmu_);
      }
    } else if (op < 13) {  // a burst of writes to the leaf table of an address in use
      const uint64_t pt = leaf_table(vas_[rng_() % vas_.size()]);
      for (uint64_t n = pt != 0 ? 2 + rng_() % 3 : 0; n > 0; --n) {
        g_.guest_write(pt + (rng_() % 3) * 8, random_entry(), *mmu_);
      }
    } else if (op < 14) {  // reuse a table page as data
      const uint64_t table = pool_[rng_() % pool_.size()];
      g_.guest_write(table + (rng_() % 512) * 8, rng_(), *mmu_);
    } else if (op < 16) {
      cur_ = rng_() % 2;
      mmu_->cr3_loaded(ctx());
    } else if (op < 17) {
      mmu_->invlpg(Gva{vas_[rng_() % vas_.size()]}, ctx());
    } else if (op < 18) {  // EPT: take a page away (it comes back zeroed on demand)
      const uint64_t gpa = rng_() % 2 ? TestGuest::data_page(rng_() % kDataPages)
                                      : pool_[rng_() % pool_.size()];
      (void)g_.memory.drop(Gpa{gpa});
    } else if (op < 19) {  // EPT: change rights of a data page
      const uint64_t gpa = TestGuest::data_page(rng_() % kDataPages);
      const EptPerms perms[] = {kEptRwx, kEptRx, kEptRead, kEptRwx};
      (void)g_.memory.p2m_for_testing().protect(Gpa{gpa}, Gpa{gpa + kPageSize}, perms[rng_() % 4]);
    } else {
      wp_ = rng_() % 4 != 0;
    }
  }

  // The guest PT on va's path in the current root, or 0.
  uint64_t leaf_table(uint64_t va) {
    uint64_t table = roots_[cur_];
    for (unsigned level = 4; level > 1; --level) {
      const uint64_t e = g_.read(table + PageTableWalker<X86Pte>::index(va, level) * 8);
      if ((e & kP) == 0 || (e & kPs) != 0) return 0;
      table = e & X86Pte::kAddressMask;
      if (table >= TestGuest::kRamBytes) return 0;
    }
    return table;
  }

  PagingContext ctx(bool user = false) const {
    PagingContext c = g_.ctx(user, roots_[cur_]);
    c.wp = wp_;
    return c;
  }

  void compare_all(int step_no) {
    if (config_.unsync_after_writes != 0) {
      // The guest's part of the contract for out-of-sync tables: flush what it changed.
      for (const uint64_t va : vas_) mmu_->invlpg(Gva{va}, ctx());
    }
    for (const uint64_t va : vas_) {
      for (const Access a : {Access::kRead, Access::kWrite, Access::kExec}) {
        for (const bool user : {false, true}) {
          const Translation s = mmu_->translate(Gva{va}, a, ctx(user));
          const Translation n = nested_.translate(Gva{va}, a, ctx(user));
          ASSERT_EQ(static_cast<int>(s.kind), static_cast<int>(n.kind))
              << "step " << step_no << " va " << std::hex << va << " access " << int(a)
              << " user " << user << " " << s.reason << " / " << n.reason;
          EXPECT_EQ(s.host_page, n.host_page) << "step " << step_no << " va " << std::hex << va;
          EXPECT_EQ(s.error_code, n.error_code) << "step " << step_no << " va " << std::hex << va;
          EXPECT_EQ(s.gpa, n.gpa) << "step " << step_no << " va " << std::hex << va;
          if (s.kind == Translation::Kind::kRam) {
            EXPECT_EQ(s.user, n.user);
          }
        }
      }
    }
    const std::vector<std::string> problems = check_shadow(*mmu_);
    ASSERT_TRUE(problems.empty()) << "step " << step_no << ": " << problems.front();
  }

  TestGuest g_;
  ShadowConfig config_;
  std::unique_ptr<ShadowMmu> mmu_;
  NestedMmu nested_{g_.memory, g_.tracking};
  std::mt19937_64 rng_{static_cast<uint64_t>(GetParam()) * 7919 + 1};
  std::mt19937_64 checkpoint_rng_{static_cast<uint64_t>(GetParam()) + 17};
  std::vector<uint64_t> roots_;
  std::vector<uint64_t> pool_;
  std::vector<uint64_t> vas_;
  unsigned cur_ = 0;
  bool wp_ = true;
  uint64_t restrictions_ = 0;
};

TEST_P(ShadowRandomTest, AgreesWithNestedPagingAfterEveryRewrite) {
  mmu_->cr3_loaded(ctx());
  for (int i = 0; i < 400; ++i) {
    step();
    ASSERT_NO_FATAL_FAILURE(compare_all(i));
    if (HasFailure()) return;
  }
  const ShadowStats s = mmu_->stats();
  EXPECT_GT(s.shadow_hits, 0u);
  EXPECT_GT(s.emulated_pt_writes, 0u);
  if (config_.unsync_after_writes != 0) {
    EXPECT_GT(s.unsyncs, 0u);
  }
  EXPECT_EQ(s.retirements > 0, restrictions_ > 0);
}

INSTANTIATE_TEST_SUITE_P(ShadowSeeds, ShadowRandomTest, ::testing::Range(0, 8));

}  // namespace
}  // namespace densevm
