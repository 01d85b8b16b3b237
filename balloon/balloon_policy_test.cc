#include "balloon/balloon_policy.h"

#include <gtest/gtest.h>

#include <cstring>

#include "virtio/virtio_mmio.h"

namespace densevm {
namespace {

constexpr uint64_t kMiB = 256;  // pages

TEST(BalloonPolicy, WithoutBudgetAllocationsAreTheCaps) {
  const std::vector<uint64_t> a =
      allocate_memory({}, {{.ram_pages = 512 * kMiB, .cap_pages = 64 * kMiB},
                           {.ram_pages = 512 * kMiB, .cap_pages = 512 * kMiB}});
  EXPECT_EQ(a, (std::vector<uint64_t>{64 * kMiB, 512 * kMiB}));
}

TEST(BalloonPolicy, IdleMemoryIsTaxedFirst) {
  // Both use 300 MiB; A's is all active, B's all idle. 300 MiB must go.
  const BalloonVmView active{512 * kMiB, 512 * kMiB, 316 * kMiB, 300 * kMiB};
  const BalloonVmView idle{512 * kMiB, 512 * kMiB, 316 * kMiB, 0};
  const std::vector<uint64_t> a =
      allocate_memory({.host_budget_pages = 724 * kMiB}, {active, idle});
  EXPECT_EQ(a[0] + a[1], 724 * kMiB);
  EXPECT_EQ(a[1], 316 * kMiB) << "the idle VM gives everything down to its floor";
  EXPECT_EQ(a[0], 408 * kMiB);
}

TEST(BalloonPolicy, FloorsWinOverTheBudget) {
  const std::vector<uint64_t> a = allocate_memory(
      {.host_budget_pages = 100 * kMiB}, {{512 * kMiB, 512 * kMiB, 200 * kMiB, 0}});
  EXPECT_EQ(a[0], 200 * kMiB);
}

// Node 1 is over its budget: its own VMs give, node 0's (idler, so costlier) are left alone;
// then the total budget takes from the costliest anywhere. A VM with no home counts in no
// node's budget.
TEST(BalloonPolicy, NodeBudgetsAreMetByTheNodesOwnVms) {
  const BalloonVmView idle0{512 * kMiB, 512 * kMiB, 64 * kMiB, 0, 0};
  const BalloonVmView busy1{512 * kMiB, 512 * kMiB, 64 * kMiB, 400 * kMiB, 1};
  const BalloonVmView idle1{512 * kMiB, 512 * kMiB, 64 * kMiB, 100 * kMiB, 1};
  const BalloonVmView homeless{256 * kMiB, 256 * kMiB, 64 * kMiB, 0, std::nullopt};
  const std::vector<uint64_t> a =
      allocate_memory({.node_budget_pages = {0, 700 * kMiB}}, {idle0, busy1, idle1, homeless});
  EXPECT_EQ(a[0], 512 * kMiB) << "node 0 has no budget: untouched though idlest";
  EXPECT_EQ(a[1] + a[2], 700 * kMiB);
  EXPECT_EQ(a[3], 256 * kMiB);
  EXPECT_GT(a[1], a[2]) << "the idler VM of the node gives more";

  const std::vector<uint64_t> b = allocate_memory({.host_budget_pages = 1200 * kMiB, .node_budget_pages = {0, 700 * kMiB}},
                                                  {idle0, busy1, idle1, homeless});
  EXPECT_EQ(b[1] + b[2], 700 * kMiB) << "the node's budget holds under the total";
  EXPECT_EQ(b[0] + b[1] + b[2] + b[3], 1200 * kMiB);
  EXPECT_LT(b[0], 512 * kMiB) << "the total takes from node 0 too";

  // The same VMs without node budgets: the total alone leaves node 1's VMs more than 700 MiB.
  const std::vector<uint64_t> c = allocate_memory({.host_budget_pages = 1200 * kMiB}, {idle0, busy1, idle1, homeless});
  EXPECT_GT(c[1] + c[2], 700 * kMiB);
}

TEST(BalloonPolicy, NodeBudgetsCannotGoBelowFloors) {
  const BalloonVmView on1{512 * kMiB, 512 * kMiB, 300 * kMiB, 0, 1};
  const std::vector<uint64_t> a = allocate_memory({.node_budget_pages = {0, 100 * kMiB}}, {on1, on1});
  EXPECT_EQ(a, (std::vector<uint64_t>{300 * kMiB, 300 * kMiB}));
  EXPECT_TRUE((BalloonPolicyConfig{.node_budget_pages = {0, 1}}.budgeted()));
  EXPECT_FALSE((BalloonPolicyConfig{.node_budget_pages = {0, 0}}.budgeted()));
}

TEST(BalloonPolicy, IsDeterministic) {
  const std::vector<BalloonVmView> vms = {{512 * kMiB, 512 * kMiB, 40 * kMiB, 10 * kMiB},
                                          {512 * kMiB, 512 * kMiB, 40 * kMiB, 10 * kMiB},
                                          {256 * kMiB, 256 * kMiB, 40 * kMiB, 100 * kMiB}};
  const BalloonPolicyConfig c{.host_budget_pages = 600 * kMiB};
  EXPECT_EQ(allocate_memory(c, vms), allocate_memory(c, vms));
  uint64_t sum = 0;
  for (uint64_t x : allocate_memory(c, vms)) sum += x;
  EXPECT_EQ(sum, 600 * kMiB);
}

TEST(BalloonPolicy, SetsDeviceTargetsAndRespectsGuestsWithoutStatistics) {
  FrameStore frames(uint64_t{256} << 20);
  GuestMemory a(frames, uint64_t{64} << 20), b(frames, uint64_t{64} << 20);
  BalloonDevice da(a), db(b);
  BalloonPolicy capped({});
  capped.add(a, da, 16 * kMiB);
  capped.step();
  EXPECT_EQ(da.stats().target_pages, 48 * kMiB);

  BalloonPolicy budget({.host_budget_pages = 64 * kMiB});
  budget.add(b, db, std::nullopt);
  budget.step();
  EXPECT_EQ(db.stats().target_pages, 0u) << "no statistics yet: no target";
}

// A guest driver scripted by the test: statistics, inflates and deflates through the real
// virtio-mmio transport, `actual` written as a driver does.
class ScriptedGuest {
 public:
  static constexpr uint64_t kRam = uint64_t{256} << 20;

  explicit ScriptedGuest(FrameStore& frames)
      : memory(frames, kRam), balloon(memory), mmio(memory, balloon) {
    const uint64_t f = BalloonDevice::kFStatsVq | kVirtioFVersion1;
    const uint32_t writes[][2] = {{0x70, 0}, {0x70, 3}, {0x24, 0}, {0x20, static_cast<uint32_t>(f)},
                                  {0x24, 1}, {0x20, static_cast<uint32_t>(f >> 32)}, {0x70, 11}};
    for (const auto& w : writes) mmio.write(w[0], 4, w[1]);
    for (uint32_t q = 0; q < 3; ++q) {
      mmio.write(0x30, 4, q);
      mmio.write(0x38, 4, kQueueSize);
      mmio.write(0x80, 4, static_cast<uint32_t>(ring(q)));
      mmio.write(0x90, 4, static_cast<uint32_t>(ring(q) + 0x400));
      mmio.write(0xa0, 4, static_cast<uint32_t>(ring(q) + 0x800));
      mmio.write(0x44, 4, 1);
    }
    mmio.write(0x70, 4, 15);
  }

  // Statistics saying the guest uses `used_pages`; the rest not in the balloon is free.
  void report(uint64_t used_pages) {
    const uint64_t free = (kRam >> kPageShift) - used_pages - held_;
    uint8_t buf[20];
    const uint16_t tags[2] = {4, 5};  // MEMFREE, MEMTOT
    const uint64_t vals[2] = {free << kPageShift, kRam};
    for (int i = 0; i < 2; ++i) {
      std::memcpy(buf + 10 * i, &tags[i], 2);
      std::memcpy(buf + 10 * i + 2, &vals[i], 8);
    }
    ASSERT_TRUE(memory.write(Gpa{kStatsBuffer}, buf, sizeof buf));
    offer(2, {kStatsBuffer, sizeof buf});
  }
  // Moves the balloon by whole requests of 1024 PFNs, from PFN 0x1000 up.
  void inflate(uint64_t pages) { move(0, pages); }
  void deflate(uint64_t pages) { move(1, pages); }
  [[nodiscard]] uint64_t held() const { return held_; }

  GuestMemory memory;
  BalloonDevice balloon;
  VirtioMmio mmio;

 private:
  static constexpr uint16_t kQueueSize = 16;
  static constexpr uint64_t kRings = 0x10000, kPfnBuffer = 0x20000, kStatsBuffer = 0x21000;
  struct Buffer {
    uint64_t addr;
    uint32_t len;
  };
  static uint64_t ring(uint32_t q) { return kRings + q * 0x1000; }

  void offer(uint32_t q, Buffer b) {
    const uint16_t head = next_[q]++ % kQueueSize;
    const struct { uint64_t addr; uint32_t len; uint16_t flags, next; } d{b.addr, b.len, 0, 0};
    ASSERT_TRUE(memory.write(Gpa{ring(q) + 16ull * head}, &d, sizeof d));
    uint16_t idx = 0;
    ASSERT_TRUE(memory.read(Gpa{ring(q) + 0x402}, &idx, 2));
    ASSERT_TRUE(memory.write(Gpa{ring(q) + 0x404 + 2ull * (idx % kQueueSize)}, &head, 2));
    ++idx;
    ASSERT_TRUE(memory.write(Gpa{ring(q) + 0x402}, &idx, 2));
    mmio.write(0x50, 4, q);
  }
  void move(uint32_t q, uint64_t pages) {
    for (uint64_t done = 0; done < pages;) {
      const uint64_t n = std::min<uint64_t>(pages - done, 1024);
      std::vector<uint32_t> pfns(n);
      for (uint32_t& p : pfns) p = static_cast<uint32_t>(0x1000 + (q == 0 ? held_++ : --held_));
      ASSERT_TRUE(memory.write(Gpa{kPfnBuffer}, pfns.data(), n * 4));
      offer(q, {kPfnBuffer, static_cast<uint32_t>(n * 4)});
      done += n;
    }
    mmio.write(0x104, 4, static_cast<uint32_t>(held_));  // config `actual`
  }

  uint16_t next_[3] = {};
  uint64_t held_ = 0;
};

void policy_round(BalloonPolicy& p) {
  for (uint64_t i = 0; i < BalloonPolicy::kPeriodEpochs; ++i) p.step();
}

TEST(BalloonPolicy, AGrowingGuestKeepsItsAllocationAndGetsRoomToGrow) {
  FrameStore frames(uint64_t{512} << 20);
  ScriptedGuest g(frames);
  BalloonPolicy policy({.host_budget_pages = 64 * kMiB, .growth_hold_rounds = 2});
  policy.add(g.memory, g.balloon, std::nullopt);
  auto round = [&](uint64_t used) {
    g.report(used);
    policy_round(policy);
    return g.balloon.stats().target_pages;
  };
  // First look, then two steady rounds held: nothing taken yet.
  EXPECT_EQ(round(40 * kMiB), 0u);
  EXPECT_EQ(round(40 * kMiB), 0u);
  EXPECT_EQ(round(40 * kMiB), 0u);
  EXPECT_EQ(policy.growth_holds(), 3u);
  // Steady since: down to the budget (floor: 40 MiB used + 16 MiB headroom = 56 MiB).
  EXPECT_EQ(round(40 * kMiB), 192 * kMiB);
  g.inflate(192 * kMiB);
  EXPECT_EQ(round(40 * kMiB), 192 * kMiB);
  EXPECT_EQ(policy.growth_holds(), 3u);

  // It grows by 20 MiB: room for as much again, above the headroom (96 MiB allocated).
  EXPECT_EQ(round(60 * kMiB), 160 * kMiB);
  EXPECT_EQ(policy.growth_holds(), 4u);
  // The driver follows the target, then runs out of memory and deflates 1 MiB on its own:
  // growth again, although its statistics are stale.
  g.deflate(32 * kMiB + 1 * kMiB);
  policy_round(policy);
  EXPECT_EQ(g.balloon.stats().target_pages, 159 * kMiB) << "at most what it holds now";
  EXPECT_EQ(policy.growth_holds(), 5u);
  EXPECT_EQ(g.balloon.stats().deflated_total, 33 * kMiB);
}

TEST(BalloonPolicy, ARetiredVmGivesItsRamBackAndLeavesTheBudget) {
  FrameStore frames(uint64_t{1} << 30);
  ScriptedGuest a(frames), b(frames);
  BalloonPolicy policy({.host_budget_pages = 128 * kMiB, .growth_hold_rounds = 0});
  policy.add(a.memory, a.balloon, std::nullopt);
  policy.add(b.memory, b.balloon, std::nullopt);
  for (int i = 0; i < 2; ++i) {
    a.report(40 * kMiB);
    b.report(40 * kMiB);
    policy_round(policy);
  }
  EXPECT_EQ(a.balloon.stats().target_pages, 192 * kMiB) << "64 MiB each";
  EXPECT_EQ(b.balloon.stats().target_pages, 192 * kMiB);

  const uint8_t one = 1;
  for (uint64_t page = 0; page < 100; ++page) {
    ASSERT_TRUE(b.memory.write(Gpa{0x400000 + page * kPageSize}, &one, 1));
  }
  const uint64_t resident = b.memory.resident_pages();
  EXPECT_GE(resident, 100u);
  policy.retire(1);
  policy.retire(1);
  EXPECT_EQ(b.memory.resident_pages(), 0u);
  EXPECT_EQ(policy.released_pages(), resident);
  EXPECT_EQ(frames.stats().frames_pending, 0u) << "flushed: back with the kernel";

  a.report(40 * kMiB);
  policy_round(policy);
  EXPECT_EQ(a.balloon.stats().target_pages, 128 * kMiB) << "the whole budget is a's now";
  EXPECT_EQ(b.balloon.stats().target_pages, 192 * kMiB) << "a retired VM gets no targets";
}

}  // namespace
}  // namespace densevm
