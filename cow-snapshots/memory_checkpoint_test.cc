#include "cow-snapshots/memory_checkpoint.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/support/tiny_elf.h"
#include "vmm/vm.h"

namespace densevm::snapshot {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

uint64_t read64(GuestMemory& m, uint64_t gpa) {
  uint64_t v = 0;
  EXPECT_TRUE(m.read(Gpa{gpa}, &v, 8));
  return v;
}

void write64(GuestMemory& m, uint64_t gpa, uint64_t v) { ASSERT_TRUE(m.write(Gpa{gpa}, &v, 8)); }

// The first word of every page in [0, pages): what tests compare before and after.
std::vector<uint64_t> first_words(GuestMemory& m, uint64_t pages) {
  std::vector<uint64_t> words;
  for (uint64_t p = 0; p < pages; ++p) words.push_back(read64(m, p * kPageSize));
  return words;
}

bool writable(GuestMemory& m, uint64_t gpa) {
  const std::optional<P2mLeaf> leaf = m.mapping(Gpa{gpa});
  return leaf && (leaf->effective_perms & kEptWrite) != 0;
}

TEST(MemoryCheckpoint, RollbackRestoresExactlyThePagesChanged) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 64 * kMiB);
  for (uint64_t p = 0; p < 100; ++p) write64(mem, 0x100000 + p * kPageSize, p);
  MemoryCheckpoint cp(mem);
  EXPECT_EQ(cp.pages(), 100u);

  write64(mem, 0x100000 + 3 * kPageSize, 333);  // copy-on-write of a checkpointed page
  write64(mem, 0x100000 + 7 * kPageSize, 777);
  write64(mem, 0x900000, 42);                    // a page first touched after the checkpoint
  EXPECT_EQ(mem.cow_breaks(), 2u);
  EXPECT_EQ(cp.kept_frames(), 2u);
  EXPECT_EQ(cp.changed_pages(), 3u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 333u);

  EXPECT_EQ(cp.rollback(), 3u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 3u);
  EXPECT_EQ(read64(mem, 0x100000 + 7 * kPageSize), 7u);
  EXPECT_FALSE(mem.mapping(Gpa{0x900000})) << "untouched again";
  EXPECT_EQ(mem.resident_pages(), 100u);

  // The checkpoint survives a rollback: the next round starts from the same memory.
  write64(mem, 0x100000 + 3 * kPageSize, 444);
  EXPECT_EQ(cp.rollback(), 1u);
  EXPECT_EQ(read64(mem, 0x100000 + 3 * kPageSize), 3u);
  EXPECT_EQ(cp.rollback(), 0u) << "nothing changed since the last rollback";
}

// The pause does not grow with the guest: one top-level EPT entry is restricted, whether 10
// or 20000 pages are mapped, and no page is kept until it changes.
TEST(MemoryCheckpoint, TakingItWritesOneEntryWhateverTheGuestSize) {
  for (const uint64_t pages : {uint64_t{10}, uint64_t{20000}}) {
    FrameStore frames(uint64_t{1} << 30);
    GuestMemory mem(frames, 128 * kMiB);
    for (uint64_t p = 0; p < pages; ++p) write64(mem, p * kPageSize, p);
    const P2mStats before = mem.ept_stats();
    const FrameStoreStats frames_before = frames.stats();
    MemoryCheckpoint cp(mem);
    const P2mStats after = mem.ept_stats();
    EXPECT_EQ(after.entry_writes - before.entry_writes, 1u) << pages;
    EXPECT_EQ(after.notifications - before.notifications, 1u) << pages;
    EXPECT_EQ(frames.stats().frames_shared, frames_before.frames_shared) << "nothing retained";
    EXPECT_EQ(cp.pages(), pages);
    EXPECT_EQ(cp.kept_frames(), 0u);
    EXPECT_FALSE(writable(mem, 0));
    EXPECT_FALSE(writable(mem, (pages - 1) * kPageSize));
  }
}

// RAM above the 3 GiB hole still lies under the first top-level entry (512 GiB).
TEST(MemoryCheckpoint, HighRamIsCoveredByTheSameEntry) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 4 * kGiB);
  const uint64_t high = GuestMemory::kHighRamBase + 5 * kPageSize;
  write64(mem, 0, 1);
  write64(mem, high, 2);
  const uint64_t before = mem.ept_stats().entry_writes;
  MemoryCheckpoint cp(mem);
  EXPECT_EQ(mem.ept_stats().entry_writes - before, 1u);
  EXPECT_FALSE(writable(mem, high));
  write64(mem, high, 3);
  EXPECT_EQ(cp.rollback(), 1u);
  EXPECT_EQ(read64(mem, high), 2u);
}

// A write under the restriction pushes it down one level at a time (512 GiB, 1 GiB, 2 MiB
// entries) to the leaf; the neighbours at every level inherit it and stay protected, and a
// second write nearby has nothing left to push. Bounded work: at most 512 entries per level.
TEST(MemoryCheckpoint, FirstWritePushesTheRestrictionDownToThatPageOnly) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 2 * kGiB);
  const uint64_t pages[] = {0x10'0000, 0x10'1000, 0x20'0000, kGiB + 0x5000};
  for (uint64_t gpa : pages) write64(mem, gpa, gpa);
  MemoryCheckpoint cp(mem);
  const P2mStats before = mem.ept_stats();

  write64(mem, 0x10'0000, 1);
  const P2mStats after = mem.ept_stats();
  EXPECT_EQ(after.push_downs - before.push_downs, 3u) << "levels 4, 3 and 2";
  EXPECT_LE(after.entry_writes - before.entry_writes, 3u * 512 + 3);
  EXPECT_EQ(after.notifications - before.notifications, 1u) << "only the copy's remap";
  EXPECT_TRUE(writable(mem, 0x10'0000));
  for (uint64_t gpa : {uint64_t{0x10'1000}, uint64_t{0x20'0000}, kGiB + 0x5000}) {
    EXPECT_FALSE(writable(mem, gpa)) << std::hex << gpa;
  }
  EXPECT_EQ(mem.mapping(Gpa{0x10'1000})->perms, kEptRx) << "the leaf holds it now";
  EXPECT_EQ(mem.mapping(Gpa{0x20'0000})->perms, kEptRwx) << "its 2 MiB entry holds it";

  write64(mem, 0x10'1000, 2);
  EXPECT_EQ(mem.ept_stats().push_downs, after.push_downs) << "already at the leaf";
  EXPECT_EQ(mem.cow_breaks(), 2u);
  EXPECT_EQ(cp.kept_frames(), 2u);

  EXPECT_EQ(cp.rollback(), 2u);
  for (uint64_t gpa : pages) EXPECT_EQ(read64(mem, gpa), gpa);
}

// Every round the guest may write different pages, touch new ones and balloon some out;
// each rollback gives back exactly the checkpoint, and no frame leaks from round to round.
TEST(MemoryCheckpoint, RepeatedRollbacksRestoreTheSameMemory) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  constexpr uint64_t kPages = 16 * kMiB / kPageSize;
  for (uint64_t p = 0; p < kPages; p += 2) write64(mem, p * kPageSize, p * 7 + 1);
  const std::vector<uint64_t> at_checkpoint = first_words(mem, kPages);
  MemoryCheckpoint cp(mem);
  for (uint64_t round = 0; round < 6; ++round) {
    for (uint64_t p = round % 3; p < kPages; p += 5) write64(mem, p * kPageSize, round);
    for (uint64_t p = 1 + round % 2; p < 64; p += 8) (void)mem.drop(Gpa::from_page(p));
    EXPECT_GT(cp.rollback(), 0u);
    EXPECT_EQ(first_words(mem, kPages), at_checkpoint) << "round " << round;
    EXPECT_EQ(mem.resident_pages(), kPages / 2) << "round " << round;
    for (uint64_t p = 1; p < kPages; p += 2) {
      ASSERT_FALSE(mem.mapping(Gpa::from_page(p))) << "round " << round << " page " << p;
    }
    // Armed again without another pass: no page is writable, so every first write of the
    // next round comes back to the checkpoint.
    mem.for_each_mapping([&](Gpa gpa, Hpa, EptPerms) {
      EXPECT_FALSE(writable(mem, gpa.value())) << "round " << round << " gpa " << gpa.value();
    });
    // Every frame in use is accounted for: mapped (kept ones too, after a rollback), a
    // table, or spare.
    EXPECT_EQ(frames.stats().frames_resident,
              mem.resident_pages() + mem.ept_stats().table_frames + cp.spare_frames())
        << "round " << round;
  }
}

TEST(MemoryCheckpoint, PagesFirstTouchedAfterItBecomeNotPresent) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  write64(mem, 0, 5);
  MemoryCheckpoint cp(mem);
  ASSERT_EQ(mem.populate(Gpa{0x40'0000}), GuestMemory::Populate::kMapped);
  EXPECT_TRUE(writable(mem, 0x40'0000)) << "nothing to keep: writable at once";
  const uint64_t breaks = mem.cow_breaks();
  write64(mem, 0x40'0000, 9);
  EXPECT_EQ(mem.cow_breaks(), breaks) << "no copy-on-write for a new page";
  write64(mem, 0x40'1000, 10);  // populated by the host write itself
  EXPECT_EQ(cp.kept_frames(), 0u);
  EXPECT_EQ(cp.rollback(), 2u);
  EXPECT_FALSE(mem.mapping(Gpa{0x40'0000}));
  EXPECT_FALSE(mem.mapping(Gpa{0x40'1000}));
  EXPECT_EQ(read64(mem, 0x40'0000), 0u);
  EXPECT_EQ(read64(mem, 0), 5u);
}

// The balloon (inflation, free page reporting: a hostile guest can report pages without any
// balloon target) unmaps pages and gives their frames back; the checkpoint keeps them first.
TEST(MemoryCheckpoint, PagesUnmappedDuringItAreRolledBack) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  for (uint64_t p = 0; p < 8; ++p) write64(mem, p * kPageSize, p + 100);
  MemoryCheckpoint cp(mem);
  EXPECT_TRUE(mem.drop(Gpa{1 * kPageSize}));  // untouched since: its own frame kept
  write64(mem, 2 * kPageSize, 7);                     // copied, then the copy unmapped
  EXPECT_TRUE(mem.drop(Gpa{2 * kPageSize}));
  EXPECT_TRUE(mem.drop(Gpa{3 * kPageSize}));   // unmapped, then touched again: zero
  EXPECT_EQ(read64(mem, 3 * kPageSize), 0u);
  write64(mem, 3 * kPageSize, 8);
  EXPECT_EQ(cp.kept_frames(), 3u);
  EXPECT_EQ(cp.rollback(), 3u);
  for (uint64_t p = 0; p < 8; ++p) EXPECT_EQ(read64(mem, p * kPageSize), p + 100) << p;
  EXPECT_EQ(mem.resident_pages(), 8u);

  // Rolled back pages are read-only and shared with the checkpoint: a write copies again.
  EXPECT_FALSE(writable(mem, 1 * kPageSize));
  write64(mem, 1 * kPageSize, 1);
  EXPECT_TRUE(mem.drop(Gpa{1 * kPageSize}));
  EXPECT_EQ(cp.rollback(), 1u);
  EXPECT_EQ(read64(mem, 1 * kPageSize), 101u);
}

// A rollback's frames are spares for the next round: the same writes again take no new
// frame from the FrameStore, and none goes back to it.
TEST(MemoryCheckpoint, TheNextRoundReusesTheFramesARollbackTookBack) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  for (uint64_t p = 0; p < 32; ++p) write64(mem, p * kPageSize, p);
  MemoryCheckpoint cp(mem);
  auto round = [&] {
    for (uint64_t p = 0; p < 32; p += 2) write64(mem, p * kPageSize, 1000 + p);
    for (uint64_t p = 64; p < 72; ++p) write64(mem, p * kPageSize, p);  // first touches
    EXPECT_EQ(cp.rollback(), 16u + 8u);
  };
  round();
  EXPECT_EQ(cp.spare_frames(), 24u);
  const FrameStoreStats before = frames.stats();
  round();
  const FrameStoreStats after = frames.stats();
  EXPECT_EQ(after.allocations, before.allocations);
  EXPECT_EQ(after.releases, before.releases);
  EXPECT_EQ(cp.spare_frames(), 24u);
  EXPECT_EQ(read64(mem, 64 * kPageSize), 0u);
  EXPECT_EQ(read64(mem, 6 * kPageSize), 6u);
}

TEST(MemoryCheckpoint, DroppingItGivesTheFramesBack) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  for (uint64_t p = 0; p < 10; ++p) write64(mem, p * kPageSize, p);
  const uint64_t resident = frames.stats().frames_resident;
  {
    MemoryCheckpoint cp(mem);
    for (uint64_t p = 0; p < 10; ++p) write64(mem, p * kPageSize, p + 100);
    EXPECT_EQ(frames.stats().frames_resident, resident + 10) << "ten private copies";
    EXPECT_EQ(cp.rollback(), 10u);
    write64(mem, 0, 7);
  }
  EXPECT_EQ(frames.stats().frames_resident, resident) << "kept frames and spares are freed";
  EXPECT_EQ(read64(mem, 0), 7u);
  EXPECT_EQ(read64(mem, 5 * kPageSize), 5u);
  write64(mem, 5 * kPageSize, 55);  // still read-only: made writable in place, no copy
  EXPECT_EQ(frames.stats().frames_resident, resident);
  EXPECT_EQ(read64(mem, 5 * kPageSize), 55u);
}

// mov esp,0x200000; mov ebx,0x300000; call rbx; call rbx; out 0xf4,al: the exit status is
// what the function at 0x300000 returns the second time.
const std::vector<uint8_t> kCallTwice = {0xbc, 0x00, 0x00, 0x20, 0x00, 0xbb, 0x00, 0x00, 0x30,
                                         0x00, 0xff, 0xd3, 0xff, 0xd3, 0xe6, 0xf4};
constexpr uint64_t kCallee = 0x300000;

// A rollback loop on a running VM, as `--rollback-every` drives it: each round the host
// rewrites the function (a copy-on-write of a code page), the guest runs it, and the
// rollback puts the old page back. The vCPU restore keeps the decode cache (kReported):
// only the page the P2M changed is decoded again, every round the same.
TEST(MemoryCheckpoint, RollbackLoopOfAVmRedecodesOnlyChangedCode) {
  FrameStore frames(uint64_t{1} << 30);
  Vm vm(frames, parse_elf(testing::tiny_elf(kCallTwice)),
        {.id = 0, .mem_bytes = 16 * kMiB, .cmdline = ""}, [](int, std::string_view) {});
  const uint8_t return5[] = {0xb0, 0x05, 0xc3};  // mov al,5; ret
  const uint8_t return9[] = {0xb0, 0x09, 0xc3};
  ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return5, sizeof return5));
  ASSERT_TRUE(vm.run_slice(5));  // through the first call's ret
  const VmState state = vm.save();
  const uint64_t decodes_at_checkpoint = vm.stats().decodes;
  MemoryCheckpoint cp(vm.memory());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return9, sizeof return9));
    while (vm.run_slice(1000)) {
    }
    ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
    EXPECT_EQ(vm.exit_status(), 9) << "round " << round;
    // The first round also decodes the second call and the OUT; later rounds only the
    // callee's two instructions, whose page the write and the rollback changed.
    if (round > 0) {
      EXPECT_EQ(vm.stats().decodes, decodes_at_checkpoint + 2) << round;
    }
    EXPECT_GT(cp.rollback(), 0u);
    vm.restore(state, cpu::RestoredMemory::kReported);
  }
  while (vm.run_slice(1000)) {
  }
  EXPECT_EQ(vm.exit_status(), 5) << "the callee as it was at the checkpoint";
  EXPECT_EQ(vm.stats().decodes, decodes_at_checkpoint + 2);
}

TEST(MemoryCheckpoint, OneAtATime) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, 16 * kMiB);
  MemoryCheckpoint cp(mem);
  EXPECT_THROW(MemoryCheckpoint second(mem), std::logic_error);
}

}  // namespace
}  // namespace densevm::snapshot
