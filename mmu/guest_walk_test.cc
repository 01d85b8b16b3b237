#include "mmu/guest_walk.h"

#include <gtest/gtest.h>

#include <random>

namespace densevm {
namespace {

using Walker = PageTableWalker<X86Pte>;

constexpr uint64_t kP = X86Pte::kPresent;
constexpr uint64_t kW = X86Pte::kWritable;
constexpr uint64_t kU = X86Pte::kUser;
constexpr uint64_t kA = X86Pte::kAccessed;
constexpr uint64_t kD = X86Pte::kDirty;
constexpr uint64_t kPs = X86Pte::kPageSize;
constexpr uint64_t kXd = X86Pte::kNoExecute;
constexpr uint64_t k2M = uint64_t{1} << 21;
constexpr uint64_t k1G = uint64_t{1} << 30;
constexpr uint32_t kNotAFault = ~0u;

bool is_violation(const GuestWalk& w) {
  return w.kind == GuestWalk::Kind::kTableViolation || w.kind == GuestWalk::Kind::kDataViolation;
}
// G in the leaf.
bool global(const GuestWalk& w) { return (w.level(w.leaf_level).entry.raw() & X86Pte::kGlobal) != 0; }

class GuestWalkTest : public ::testing::Test {
 protected:
  GuestWalkTest() { cr3_ = new_table(); }

  // Backs the guest-physical page holding gpa with a fresh zeroed frame.
  void back(uint64_t gpa, EptPerms perms = kEptRwx) {
    if (p2m_.inspect(Gpa{gpa}.page_base())) return;
    ASSERT_EQ(p2m_.map(Gpa{gpa}.page_base(), *frames_.allocate(), perms), P2mStatus::kOk);
  }
  uint64_t& guest_u64(uint64_t gpa) {
    const Hpa hpa = p2m_.inspect(Gpa{gpa})->hpa;
    return *reinterpret_cast<uint64_t*>(frames_.host_ptr(hpa) + (gpa & kPageMask));
  }
  uint64_t new_table() {
    const uint64_t table = next_table_;
    next_table_ += kPageSize;
    back(table);
    return table;
  }
  // Installs gva -> gpa as a leaf at `level` (2 and 3 get PS); missing tables get
  // upper_flags. Returns the Gpa of the leaf entry.
  uint64_t map(uint64_t gva, uint64_t gpa, uint64_t leaf_flags, unsigned level = 1,
               uint64_t upper_flags = kP | kW | kU) {
    uint64_t table = cr3_;
    for (unsigned l = 4; l > level; --l) {
      uint64_t& entry = guest_u64(table + Walker::index(gva, l) * 8);
      if ((entry & kP) == 0) entry = new_table() | upper_flags;
      table = entry & X86Pte::kAddressMask;
    }
    const uint64_t entry_gpa = table + Walker::index(gva, level) * 8;
    guest_u64(entry_gpa) = gpa | leaf_flags | (level > 1 ? kPs : 0);
    return entry_gpa;
  }
  // Gpa of the entry at `level` on gva's (already built) path.
  uint64_t entry_gpa(uint64_t gva, unsigned level) {
    uint64_t table = cr3_;
    for (unsigned l = 4; l > level; --l) {
      table = guest_u64(table + Walker::index(gva, l) * 8) & X86Pte::kAddressMask;
    }
    return table + Walker::index(gva, level) * 8;
  }
  PagingContext ctx(bool user = false) const {
    PagingContext c;
    c.cr3 = cr3_;
    c.user = user;
    c.wp = true;
    c.nxe = true;
    return c;
  }
  // One processor walk (kAccess), counted as the MMUs count theirs.
  GuestWalk walk(Gva gva, Access access, const PagingContext& c, unsigned maxphyaddr = kGuestMaxPhysAddrBits) {
    const GuestWalk w = walk_guest(memory_, gva, access, c, WalkMode::kAccess, maxphyaddr);
    ++walks_;
    references_ += w.references;
    guest_page_faults_ += w.kind == GuestWalk::Kind::kPageFault;
    ept_violations_ += w.kind == GuestWalk::Kind::kTableViolation || w.kind == GuestWalk::Kind::kDataViolation;
    return w;
  }
  uint32_t fault(Gva gva, Access access, const PagingContext& c) {
    const GuestWalk w = walk(gva, access, c);
    return w.kind == GuestWalk::Kind::kPageFault ? w.error_code : kNotAFault;
  }
  uint32_t fault(uint64_t gva, Access access, bool user = false) {
    return fault(Gva{gva}, access, ctx(user));
  }

  FrameStore frames_{uint64_t{256} << 20};
  GuestMemory memory_{frames_, uint64_t{64} << 20};
  P2m& p2m_ = memory_.p2m_for_testing();  // the tests build guest tables in frames they map
  uint64_t next_table_ = 0x10'0000;  // guest tables from 1 MiB, data from 2 MiB up
  uint64_t cr3_ = 0;
  uint64_t walks_ = 0;
  uint64_t references_ = 0;
  uint64_t guest_page_faults_ = 0;
  uint64_t ept_violations_ = 0;
};

TEST_F(GuestWalkTest, FourLevelWalkTakes24References) {
  const uint64_t gva = 0x7F12'3456'7000;
  map(gva, 0x20'0000, kP | kW | kU);
  back(0x20'0000);
  const GuestWalk w = walk(Gva{gva + 0x123}, Access::kRead, ctx(true));
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.gpa, Gpa{0x20'0123});
  EXPECT_EQ(w.hpa, p2m_.inspect(Gpa{0x20'0000})->hpa);
  EXPECT_TRUE(frames_.contains(w.hpa));
  EXPECT_EQ(w.page_size(), kPageSize);
  EXPECT_TRUE(w.writable);
  EXPECT_TRUE(w.user);
  EXPECT_TRUE(w.executable);
  EXPECT_FALSE(global(w));
  EXPECT_EQ(w.ept_perms, kEptRwx);
  EXPECT_EQ(walks_, 1u);
  EXPECT_EQ(references_, 24u) << "4 x (4 EPT + 1 guest) + 4 EPT";
}

TEST_F(GuestWalkTest, LargePagesShortenTheWalk) {
  map(0x4000'0000, 0x4000'0000, kP | kW, 2);
  back(0x4001'2000);
  GuestWalk w = walk(Gva{0x4001'2345}, Access::kWrite, ctx());
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.gpa, Gpa{0x4001'2345});
  EXPECT_EQ(w.page_size(), k2M);
  EXPECT_EQ(w.hpa, p2m_.inspect(Gpa{0x4001'2000})->hpa);
  EXPECT_EQ(references_, 3 * 5 + 4u);

  const uint64_t gva1g = (uint64_t{1} << 39) + k1G;
  map(gva1g, k1G, kP | kW | X86Pte::kLargePat, 3);  // PAT bit 12 is not address
  back(k1G + 0x234'5000);
  w = walk(Gva{gva1g + 0x234'5678}, Access::kRead, ctx());
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.gpa, Gpa{k1G + 0x234'5678});
  EXPECT_EQ(w.page_size(), k1G);
  EXPECT_EQ(references_, 3 * 5 + 4u + 2 * 5 + 4u);
}

TEST_F(GuestWalkTest, SetsGuestAccessedAndDirtyBits) {
  const uint64_t gva = 0x1234'5000;
  map(gva, 0x20'0000, kP | kW);
  back(0x20'0000);
  ASSERT_EQ(walk(Gva{gva}, Access::kRead, ctx()).kind, GuestWalk::Kind::kHit);
  for (unsigned level = 4; level >= 1; --level) {
    EXPECT_EQ(guest_u64(entry_gpa(gva, level)) & (kA | kD), kA) << "level " << level;
  }
  ASSERT_EQ(walk(Gva{gva}, Access::kWrite, ctx()).kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(guest_u64(entry_gpa(gva, 1)) & (kA | kD), kA | kD);
  EXPECT_EQ(guest_u64(entry_gpa(gva, 2)) & kD, 0u) << "D is a leaf bit";
}

TEST_F(GuestWalkTest, FaultsSetAccessedOnlyOnLevelsThatPassed) {
  const uint64_t gva = 0x1234'5000;
  map(gva, 0x20'0000, kP | kU);  // read-only
  EXPECT_EQ(fault(gva, Access::kWrite, true), kPfPresent | kPfWrite | kPfUser);
  EXPECT_NE(guest_u64(entry_gpa(gva, 2)) & kA, 0u);
  EXPECT_EQ(guest_u64(entry_gpa(gva, 1)) & (kA | kD), 0u) << "the refused leaf stays untouched";

  guest_u64(entry_gpa(gva, 1)) = 0;
  guest_u64(entry_gpa(gva, 2)) &= ~kA;
  EXPECT_EQ(fault(gva, Access::kRead), 0u);
  EXPECT_NE(guest_u64(entry_gpa(gva, 2)) & kA, 0u);
}

TEST_F(GuestWalkTest, GuestTableAccessesAreEptWrites) {
  const uint64_t gva = 0x1234'5000;
  map(gva, 0x20'0000, kP | kW);
  back(0x20'0000);
  ASSERT_EQ(walk(Gva{gva}, Access::kRead, ctx()).kind, GuestWalk::Kind::kHit);
  EXPECT_TRUE(p2m_.inspect(Gpa{cr3_})->dirty) << "A/D-enabled EPT treats table reads as writes";
  EXPECT_TRUE(p2m_.inspect(Gpa{0x20'0000})->accessed);
  EXPECT_FALSE(p2m_.inspect(Gpa{0x20'0000})->dirty);
  ASSERT_EQ(walk(Gva{gva}, Access::kWrite, ctx()).kind, GuestWalk::Kind::kHit);
  EXPECT_TRUE(p2m_.inspect(Gpa{0x20'0000})->dirty);

  // A read-only (e.g. copy-on-write) page table page stops the walk with a write violation.
  const uint64_t pd = entry_gpa(gva, 2) & ~kPageMask;
  ASSERT_EQ(p2m_.protect(Gpa{pd}, Gpa{pd + kPageSize}, kEptRead), P2mStatus::kOk);
  const GuestWalk w = walk(Gva{gva}, Access::kRead, ctx());
  ASSERT_TRUE(is_violation(w));
  EXPECT_EQ(w.kind, GuestWalk::Kind::kTableViolation);
  EXPECT_EQ(w.lowest_level, 3u) << "the table at level 2 was refused";
  EXPECT_EQ(w.violation.gpa, Gpa{entry_gpa(gva, 2)});
  EXPECT_EQ(w.violation.access, Access::kWrite);
  EXPECT_TRUE(w.violation.mapped);
}

TEST_F(GuestWalkTest, NotPresentErrorCodes) {
  EXPECT_EQ(fault(0x1000, Access::kRead), 0u);
  EXPECT_EQ(fault(0x1000, Access::kWrite), kPfWrite);
  EXPECT_EQ(fault(0x1000, Access::kWrite, true), kPfWrite | kPfUser);
  EXPECT_EQ(fault(0x1000, Access::kExec, true), kPfUser | kPfFetch);
  PagingContext no_nx = ctx();
  no_nx.nxe = false;
  EXPECT_EQ(fault(Gva{0x1000}, Access::kExec, no_nx), 0u) << "I/D needs NXE (or SMEP)";
  map(0x1000, 0x20'0000, 0);  // present path, not-present leaf
  EXPECT_EQ(fault(0x1000, Access::kRead, true), kPfUser);
  EXPECT_EQ(guest_page_faults_, 6u);
}

TEST_F(GuestWalkTest, ProtectionErrorCodes) {
  map(0x1000, 0x20'0000, kP);            // supervisor, read-only
  map(0x2000, 0x20'1000, kP | kU | kXd);  // user, read-only, no-execute
  back(0x20'0000);
  back(0x20'1000);
  EXPECT_EQ(fault(0x1000, Access::kRead, true), kPfPresent | kPfUser);
  EXPECT_EQ(fault(0x2000, Access::kWrite, true), kPfPresent | kPfWrite | kPfUser);
  EXPECT_EQ(fault(0x1000, Access::kWrite), kPfPresent | kPfWrite) << "CR0.WP=1";
  PagingContext no_wp = ctx();
  no_wp.wp = false;
  EXPECT_EQ(fault(Gva{0x1000}, Access::kWrite, no_wp), kNotAFault) << "CR0.WP=0";
  EXPECT_EQ(fault(Gva{0x2000}, Access::kWrite, no_wp), kNotAFault);
  no_wp.user = true;
  EXPECT_EQ(fault(Gva{0x2000}, Access::kWrite, no_wp), kPfPresent | kPfWrite | kPfUser)
      << "WP only relaxes supervisor writes";
  EXPECT_EQ(fault(0x2000, Access::kRead), kNotAFault) << "no SMAP";
  EXPECT_EQ(fault(0x2000, Access::kExec), kPfPresent | kPfFetch);
  EXPECT_EQ(fault(0x2000, Access::kExec, true), kPfPresent | kPfUser | kPfFetch);
  EXPECT_EQ(fault(0x1000, Access::kExec), kNotAFault);
}

TEST_F(GuestWalkTest, RightsAreAndedAcrossGuestLevels) {
  map(0x4000'0000, 0x20'0000, kP | kW | kU, 1, kP | kU);  // read-only upper levels
  map(0x8000'0000, 0x20'1000, kP | kW | kU, 1, kP | kW);  // supervisor upper levels
  map(0xC000'0000, 0x20'2000, kP | kW | kU, 1, kP | kW | kU | kXd);
  back(0x20'0000);
  back(0x20'1000);
  back(0x20'2000);
  EXPECT_EQ(fault(0x4000'0000, Access::kWrite, true), kPfPresent | kPfWrite | kPfUser);
  EXPECT_EQ(fault(0x8000'0000, Access::kRead, true), kPfPresent | kPfUser);
  EXPECT_EQ(fault(0xC000'0000, Access::kExec), kPfPresent | kPfFetch);
  const GuestWalk w = walk(Gva{0x4000'0000}, Access::kRead, ctx(true));
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_FALSE(w.writable);
  EXPECT_TRUE(w.user);
}

TEST_F(GuestWalkTest, ReservedBitsFaultWithRsvd) {
  constexpr uint32_t kRsvd = kPfPresent | kPfReserved;
  map(0x20'0000, 0x20'0000 | (1u << 13), kP | kW, 2);  // 2 MiB page, bit 13 reserved
  EXPECT_EQ(fault(0x20'0000, Access::kRead), kRsvd);
  map(k1G, k1G | (1u << 20), kP | kW, 3);  // 1 GiB page, bit 20 reserved
  EXPECT_EQ(fault(k1G, Access::kWrite, true), kRsvd | kPfWrite | kPfUser);
  map(0x1000, uint64_t{1} << kGuestMaxPhysAddrBits, kP);  // above MAXPHYADDR
  EXPECT_EQ(fault(0x1000, Access::kRead), kRsvd);
  map(0x2000, 0x20'0000, kP | kXd);
  PagingContext no_nx = ctx();
  no_nx.nxe = false;
  EXPECT_EQ(fault(Gva{0x2000}, Access::kRead, no_nx), kRsvd) << "XD is reserved without NXE";
  EXPECT_EQ(fault(Gva{0x2000}, Access::kExec, no_nx), kRsvd);
  guest_u64(cr3_ + 8 * 3) = next_table_ | kP | kW | kPs;  // PS in a PML4E
  back(next_table_);
  EXPECT_EQ(fault(uint64_t{3} << 39, Access::kRead), kRsvd);
}

TEST_F(GuestWalkTest, SelfReferencingPml4IsARecursiveMapping) {
  guest_u64(cr3_ + 511 * 8) = cr3_ | kP | kW;
  const uint64_t recursive = 0xFFFF'FFFF'FFFF'F000;  // indices 511, 511, 511, 511
  GuestWalk w = walk(Gva{recursive + 511 * 8}, Access::kRead, ctx());
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.gpa, Gpa{cr3_ + 511 * 8}) << "the PML4 maps itself";

  // Every entry pointing at the PML4: any address resolves into that one page.
  for (unsigned i = 0; i < 512; ++i) guest_u64(cr3_ + i * 8) = cr3_ | kP | kW | kU;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100; ++i) {
    w = walk(Gva{rng() & 0xFFFF'FFFF'FFFF}, Access::kWrite, ctx(true));
    ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
    EXPECT_EQ(w.gpa.page_base(), Gpa{cr3_});
  }
}

TEST_F(GuestWalkTest, TablesInUnbackedRamAreEptViolations) {
  const uint64_t gva = 0x1234'5000;
  map(gva, 0x20'0000, kP | kW);
  guest_u64(entry_gpa(gva, 3)) = 0x300'0000 | kP | kW;  // PD in RAM with no frame yet
  const GuestWalk w = walk(Gva{gva}, Access::kRead, ctx());
  ASSERT_TRUE(is_violation(w));
  EXPECT_EQ(w.kind, GuestWalk::Kind::kTableViolation);
  EXPECT_EQ(w.lowest_level, 3u) << "the table at level 2 was refused";
  EXPECT_EQ(w.violation.gpa, Gpa{0x300'0000 + Walker::index(gva, 2) * 8});
  EXPECT_FALSE(w.violation.mapped);
  EXPECT_EQ(ept_violations_, 1u);
}

// UNDEFINED.md, "Memory outside RAM": a table outside RAM reads as all-ones, whose address
// bits above MAXPHYADDR are reserved: #PF(P, RSVD) at that level, no EPT violation, and the
// walk's A bit goes nowhere.
TEST_F(GuestWalkTest, TablesOutsideRamReadAllOnes) {
  const uint64_t gva = 0x1234'5000;
  map(gva, 0x20'0000, kP | kW);
  guest_u64(entry_gpa(gva, 3)) = 0x3000'0000 | kP | kW;  // PD past the end of RAM
  const GuestWalk w = walk(Gva{gva}, Access::kWrite, ctx(true));
  ASSERT_EQ(w.kind, GuestWalk::Kind::kPageFault);
  EXPECT_EQ(w.error_code, kPfPresent | kPfReserved | kPfWrite | kPfUser);
  EXPECT_EQ(w.lowest_level, 2u);
  EXPECT_EQ(w.level(2).entry.raw(), ~uint64_t{0});
  EXPECT_EQ(w.level(2).table, Gpa{0x3000'0000});
  EXPECT_EQ(ept_violations_, 0u);

  PagingContext wild = ctx();
  wild.cr3 = ~uint64_t{0};  // masked to MAXPHYADDR: far outside RAM
  const GuestWalk root = walk(Gva{gva}, Access::kExec, wild);
  ASSERT_EQ(root.kind, GuestWalk::Kind::kPageFault);
  EXPECT_EQ(root.error_code, kPfPresent | kPfReserved | kPfFetch);
  EXPECT_EQ(root.lowest_level, 4u);
  EXPECT_LT(root.level(4).table.value(), uint64_t{1} << kGuestMaxPhysAddrBits);
  EXPECT_EQ(ept_violations_, 0u);
}

TEST_F(GuestWalkTest, DataInUnmappedGpaSpaceIsAnEptViolationAfterTheGuestChecks) {
  map(0x5000, 0x30'0000, kP | kW);
  GuestWalk w = walk(Gva{0x5678}, Access::kWrite, ctx());
  ASSERT_TRUE(is_violation(w));
  EXPECT_EQ(w.kind, GuestWalk::Kind::kDataViolation);
  EXPECT_EQ(w.violation.gpa, Gpa{0x30'0678}) << "exact guest-physical address";
  EXPECT_EQ(w.violation.access, Access::kWrite);
  EXPECT_FALSE(w.violation.mapped);
  EXPECT_EQ(guest_u64(entry_gpa(0x5000, 1)) & (kA | kD), kA | kD) << "guest walk completed";
  EXPECT_EQ(fault(0x5000, Access::kWrite, true), kPfPresent | kPfWrite | kPfUser)
      << "a guest #PF wins over the EPT";

  back(0x30'0000, kEptRead);
  w = walk(Gva{0x5000}, Access::kWrite, ctx());
  ASSERT_TRUE(is_violation(w));
  EXPECT_TRUE(w.violation.mapped);
  EXPECT_EQ(w.violation.effective_perms, kEptRead);
  w = walk(Gva{0x5000}, Access::kRead, ctx());
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.ept_perms, kEptRead);
}

TEST_F(GuestWalkTest, WideMaxPhysAddrReachesBeyondTheEptSafely) {
  map(0x1000, uint64_t{1} << 51, kP);
  const GuestWalk w = walk(Gva{0x1000}, Access::kRead, ctx(), /*maxphyaddr=*/52);
  ASSERT_TRUE(is_violation(w));
  EXPECT_EQ(w.violation.gpa, Gpa{uint64_t{1} << 51});
  EXPECT_FALSE(w.violation.mapped);
}

TEST_F(GuestWalkTest, Cr3LowBitsAndPagingOff) {
  map(0x1000, 0x20'0000, kP | X86Pte::kGlobal);
  back(0x20'0000);
  PagingContext c = ctx();
  c.cr3 |= 0xFFF;  // PCID / PWT / PCD
  GuestWalk w = walk(Gva{0x1000}, Access::kRead, c);
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_TRUE(global(w));

  c.paging = false;
  const uint64_t refs = references_;
  w = walk(Gva{0x20'0042}, Access::kExec, c);
  ASSERT_EQ(w.kind, GuestWalk::Kind::kHit);
  EXPECT_EQ(w.gpa, Gpa{0x20'0042});
  EXPECT_EQ(references_ - refs, 4u);
}

// Hostile tables: random entries pointing at tables, data, nowhere, or garbage. Whatever
// they say, the walker returns a value and only ever hands out frames the P2M maps.
TEST_F(GuestWalkTest, RandomTablesNeverEscapeTheP2m) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> tables = {cr3_};
  for (int i = 0; i < 15; ++i) tables.push_back(new_table());
  for (uint64_t gpa = 0x20'0000; gpa < 0x20'8000; gpa += kPageSize) back(gpa);
  auto random_entry = [&]() -> uint64_t {
    const uint64_t flags = rng() & (0xFFF | kXd);
    switch (rng() % 4) {
      case 0: return tables[rng() % tables.size()] | flags;
      case 1: return (0x20'0000 + (rng() % 8) * kPageSize) | flags;
      case 2: return (rng() & 0x3F'FFFF'F000) | flags;  // mostly unmapped
      default: return rng();
    }
  };
  for (uint64_t table : tables) {
    for (unsigned i = 0; i < 512; ++i) guest_u64(table + i * 8) = random_entry();
  }
  const Access accesses[] = {Access::kRead, Access::kWrite, Access::kExec};
  for (int i = 0; i < 20000; ++i) {
    PagingContext c = ctx(rng() & 1);
    c.wp = rng() & 1;
    c.nxe = rng() & 1;
    const Gva gva{rng()};
    const GuestWalk w = walk(gva, accesses[rng() % 3], c);
    if (w.kind == GuestWalk::Kind::kHit) {
      ASSERT_TRUE(frames_.contains(w.hpa));
      ASSERT_EQ(p2m_.inspect(w.gpa)->hpa, w.hpa);
      ASSERT_TRUE(w.page_size() == kPageSize || w.page_size() == k2M || w.page_size() == k1G);
    } else if (w.kind == GuestWalk::Kind::kPageFault) {
      ASSERT_EQ(w.error_code & ~0x1Fu, 0u);
      if (w.error_code & kPfReserved) {
        ASSERT_TRUE(w.error_code & kPfPresent);
      }
    } else {
      ASSERT_TRUE(is_violation(w));
    }
  }
  EXPECT_EQ(walks_, 20000u);
  EXPECT_LE(references_, 24 * walks_);
}

}  // namespace
}  // namespace densevm
