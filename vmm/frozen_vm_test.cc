#include "vmm/frozen_vm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "cow-snapshots/background_save.h"
#include "cow-snapshots/snapshot_image.h"
#include "tests/support/tiny_elf.h"
#include "vmm/boot.h"
#include "vmm/scheduler.h"

namespace densevm {
namespace {

using namespace snapshot;

using densevm::testing::tiny_elf;

// mov dx,0x3f8; mov al,'A'; out dx,al; mov al,'B'; out dx,al; mov al,'\n'; out dx,al;
// mov al,7; out 0xf4,al
const std::vector<uint8_t> kPrintAbAndExit7 = {0x66, 0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, 0xb0, 'B',
                                               0xee, 0xb0, '\n', 0xee, 0xb0, 0x07, 0xe6, 0xf4};
// mov byte [0x40000a], 0xee; mov al,7; out 0xf4,al: a guest write to the first data page.
const std::vector<uint8_t> kWriteDataAndExit7 = {0xc6, 0x04, 0x25, 0x0a, 0x00, 0x40, 0x00, 0xee,
                                                 0xb0, 0x07, 0xe6, 0xf4};
constexpr uint64_t kMem = 16 << 20;
// Recognisable pages: kData + i * 4 KiB holds byte i + 1, for i < kPages.
constexpr uint64_t kPages = 8;
constexpr uint64_t kData = 0x400000;

Gpa data_page(uint64_t i) { return Gpa{kData + i * kPageSize}; }

std::vector<uint8_t> filled(uint64_t i) { return std::vector<uint8_t>(kPageSize, static_cast<uint8_t>(i + 1)); }

std::vector<uint8_t> page_of(GuestMemory& memory, Gpa gpa) {
  std::vector<uint8_t> bytes(kPageSize);
  EXPECT_TRUE(memory.read(gpa, bytes.data(), bytes.size()));
  return bytes;
}
std::vector<uint8_t> page_of(Vm& vm, Gpa gpa) { return page_of(vm.memory(), gpa); }

FrozenVm frozen_of(std::unique_ptr<Vm> vm) { return freeze(std::move(vm), std::nullopt, {}); }

class VmTemplateTest : public ::testing::Test {
 protected:
  // A booted guest with the data pages filled, stopped between slices after `steps`.
  std::unique_ptr<Vm> booted(const std::vector<uint8_t>& code, uint64_t steps) {
    auto vm = std::make_unique<Vm>(frames_, parse_elf(tiny_elf(code)),
                                   VmConfig{.id = 0, .mem_bytes = kMem, .cmdline = ""}, sink());
    for (uint64_t i = 0; i < kPages; ++i) {
      EXPECT_TRUE(vm->memory().write(data_page(i), filled(i).data(), kPageSize));
    }
    if (steps != 0) {
      EXPECT_TRUE(vm->run_slice(steps));
    }
    return vm;
  }
  Vm::ConsoleSink sink() {
    return [this](int id, std::string_view l) { lines_.push_back("vm" + std::to_string(id) + " " + std::string(l)); };
  }
  std::unique_ptr<Vm> clone(const FrozenVm& t, int id, uint64_t number) {
    return restore_vm(vm_image(t), frames_, sink(), {.lazy = true, .vm_id = id, .clone = number, .same_vm = false});
  }
  static void run_to_end(Vm& vm) {
    while (vm.run_slice(1000)) {}
  }

  FrameStore frames_{uint64_t{1} << 30};
  std::vector<std::string> lines_;
};

TEST_F(VmTemplateTest, ClonesShareTheTemplatesFramesUntilTheyWriteThem) {
  auto original = booted(kPrintAbAndExit7, 3);  // 'A' is out: the UART holds a partial line
  const Hpa frozen_frame = original->memory().mapping(data_page(2))->hpa;
  FrozenVm frozen = frozen_of(std::move(original));
  EXPECT_EQ(frames_.refcount(frozen_frame), 1u);
  std::vector<std::unique_ptr<Vm>> clones;
  for (uint64_t k = 0; k < 3; ++k) clones.push_back(clone(frozen, static_cast<int>(k), k + 1));
  const uint64_t fetched = frozen.tmpl->fetches();  // what restoring took (the generation id's page)
  for (auto& c : clones) EXPECT_EQ(page_of(*c, data_page(2)), filled(2));
  // One frame, the template's, behind the page in all three, read-only.
  for (auto& c : clones) {
    const std::optional<P2mLeaf> leaf = c->memory().mapping(data_page(2));
    ASSERT_TRUE(leaf);
    EXPECT_EQ(leaf->hpa, frozen_frame);
    EXPECT_TRUE((leaf->perms & kEptWrite) == 0);
  }
  EXPECT_EQ(frames_.refcount(frozen_frame), 4u);
  EXPECT_EQ(frozen.tmpl->fetches(), fetched + 3);

  // A clone's write copies the page: neither the template nor a sibling sees it.
  const uint8_t x = 0xee;
  ASSERT_TRUE(clones[1]->memory().write(data_page(2) + 10, &x, 1));
  EXPECT_NE(clones[1]->memory().mapping(data_page(2))->hpa, frozen_frame);
  EXPECT_EQ(frames_.refcount(frozen_frame), 3u);
  EXPECT_EQ(page_of(*clones[1], data_page(2))[10], 0xee);
  EXPECT_EQ(page_of(*clones[0], data_page(2)), filled(2));
  EXPECT_EQ(page_of(frozen.tmpl->memory(), data_page(2)), filled(2));
  EXPECT_EQ(frozen.tmpl->memory().mapping(data_page(2))->hpa, frozen_frame);

  // Each finishes the template's partial line and exits as the original would have.
  for (auto& c : clones) {
    run_to_end(*c);
    EXPECT_EQ(c->exit_status(), 7) << c->failure();
    EXPECT_EQ(c->stats().instructions, 9u);
  }
  EXPECT_EQ(lines_, (std::vector<std::string>{"vm0 AB", "vm1 AB", "vm2 AB"}));
}

TEST_F(VmTemplateTest, GuestWritesInClonesRunningOnThreadsStayInTheClones) {
  FrozenVm frozen = frozen_of(booted(kWriteDataAndExit7, 0));
  const Hpa frozen_frame = frozen.tmpl->memory().mapping(data_page(0))->hpa;
  std::vector<std::unique_ptr<Vm>> clones;
  std::vector<Vm*> run_list;
  for (uint64_t k = 0; k < 4; ++k) {
    clones.push_back(clone(frozen, static_cast<int>(k), k + 1));
    run_list.push_back(clones.back().get());
  }
  Scheduler(run_list, /*threads=*/2, /*slice=*/1000).run([](size_t) {}, [] {});
  std::vector<uint8_t> written = filled(0);
  written[10] = 0xee;
  std::vector<uint64_t> copies;  // each clone's frame behind the page it wrote
  for (auto& c : clones) {
    EXPECT_EQ(c->exit_status(), 7) << c->failure();
    EXPECT_EQ(page_of(*c, data_page(0)), written);
    copies.push_back(c->memory().mapping(data_page(0))->hpa.value());
  }
  std::sort(copies.begin(), copies.end());
  EXPECT_EQ(std::unique(copies.begin(), copies.end()), copies.end()) << "two clones share a written page";
  EXPECT_EQ(std::count(copies.begin(), copies.end(), frozen_frame.value()), 0);
  EXPECT_EQ(page_of(frozen.tmpl->memory(), data_page(0)), filled(0));
  EXPECT_EQ(frames_.refcount(frozen_frame), 1u);
}

// A template of a VM restored lazily: pages the VM never touched come from the file, pages
// its guest gave up (balloon) come back zeroed, and the template's memory never changes.
TEST_F(VmTemplateTest, OverALazyRestoreServesTheFileAndZeroesWhatTheGuestGaveUp) {
  SaveStats s;
  const std::vector<uint8_t> file =
      encode_vm(*booted(kPrintAbAndExit7, 3), {.compress = false, .parent = nullptr, .parent_name = {}}, s);
  auto image = std::make_shared<SnapshotImage>(std::vector<Snapshot>{parse_snapshot(file, nullptr, false)}, frames_,
                                               /*shared=*/false);
  std::unique_ptr<Vm> lazy =
      restore_vm(vm_image(image), frames_, sink(), {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = false});
  EXPECT_EQ(page_of(*lazy, data_page(1)), filled(1));  // fetched: mapped in the lazy VM
  (void)lazy->memory().discard(data_page(1));           // ...and given up again
  (void)lazy->memory().discard(data_page(6));           // given up before it was ever fetched
  ASSERT_FALSE(lazy->memory().mapping(data_page(3)));
  const uint64_t mapped = lazy->memory().resident_pages();
  const uint64_t fetched = image->fetches();

  FrozenVm frozen = frozen_of(std::move(lazy));
  std::unique_ptr<Vm> c = clone(frozen, 0, 1);
  EXPECT_EQ(page_of(*c, data_page(3)), filled(3));  // from the file, by way of the template
  EXPECT_EQ(image->fetches(), fetched + 1);
  EXPECT_EQ(page_of(*c, data_page(1)), std::vector<uint8_t>(kPageSize, 0));
  EXPECT_EQ(page_of(*c, data_page(6)), std::vector<uint8_t>(kPageSize, 0));
  EXPECT_EQ(image->fetches(), fetched + 1) << "a page given up is not fetched from the file";
  EXPECT_FALSE(frozen.tmpl->memory().mapping(data_page(3))) << "the template's memory changed";
  EXPECT_EQ(frozen.tmpl->memory().resident_pages(), mapped);

  // What a clone materializes: every page the template has or still owes, none given up.
  std::vector<Gpa> held;
  frozen.tmpl->for_each_held_page([&](Gpa g) { held.push_back(g); });
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
  EXPECT_EQ(std::count(held.begin(), held.end(), data_page(3)), 1);
  EXPECT_EQ(std::count(held.begin(), held.end(), data_page(1)), 0);
  EXPECT_EQ(std::count(held.begin(), held.end(), data_page(6)), 0);
  ASSERT_EQ(c->memory().materialize(), GuestMemory::Populate::kMapped);
  EXPECT_EQ(c->memory().resident_pages(), held.size());
  for (uint64_t i : {0, 2, 4, 5, 7}) EXPECT_EQ(page_of(*c, data_page(i)), filled(i)) << i;
  run_to_end(*c);
  EXPECT_EQ(c->exit_status(), 7);
}

TEST_F(VmTemplateTest, EachCloneGetsAGenerationIdOfItsOwnAndARepeatTheSame) {
  auto original = booted(kPrintAbAndExit7, 3);
  const Vm::GenerationId boot_id = original->generation_id();
  FrozenVm frozen = frozen_of(std::move(original));
  FrozenVm twin = frozen_of(booted(kPrintAbAndExit7, 3));  // the same run again
  EXPECT_EQ(twin.tmpl->state_hash(), frozen.tmpl->state_hash());
  std::vector<Vm::GenerationId> ids;
  for (uint64_t k = 1; k <= 3; ++k) ids.push_back(clone(frozen, 0, k)->generation_id());
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_NE(ids[0], ids[2]);
  for (const auto& id : ids) EXPECT_NE(id, boot_id);
  EXPECT_EQ(clone(frozen, 0, 2)->generation_id(), ids[1]);
  EXPECT_EQ(clone(twin, 0, 2)->generation_id(), ids[1]);
  // Another checkpoint of the run (one instruction on) gives its clones other ids.
  FrozenVm later = frozen_of(booted(kPrintAbAndExit7, 4));
  EXPECT_NE(later.tmpl->state_hash(), frozen.tmpl->state_hash());
  EXPECT_NE(clone(later, 0, 2)->generation_id(), ids[1]);
  // The VM going on from its own checkpoint is the same VM: its id does not change.
  std::unique_ptr<Vm> same = restore_vm(vm_image(frozen), frames_, sink(),
                                         {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true});
  EXPECT_EQ(same->generation_id(), boot_id);
  run_to_end(*same);
  EXPECT_EQ(same->exit_status(), 7);
  EXPECT_EQ(lines_, std::vector<std::string>{"vm0 AB"});
}

// The VM going on is the same VM: its host-side counters continue from the frozen one's,
// where a clone's start at zero.
TEST_F(VmTemplateTest, TheVmGoingOnContinuesTheFrozenVmsCounters) {
  FrozenVm frozen = frozen_of(booted(kPrintAbAndExit7, 3));
  const VmStats before = frozen.vm->stats();
  ASSERT_GT(before.walks, 0u);
  std::unique_ptr<Vm> same = restore_vm(vm_image(frozen), frames_, sink(),
                                         {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true});
  const VmStats now = same->stats();
  EXPECT_EQ(now.instructions, before.instructions);
  EXPECT_EQ(now.decodes, before.decodes);  // the vCPU's record
  EXPECT_EQ(now.walks, before.walks);      // carried over
  EXPECT_EQ(now.walk_refs, before.walk_refs);
  EXPECT_EQ(now.resident_pages, 0u) << "a gauge: what this VM holds, not a sum";
  run_to_end(*same);
  EXPECT_GT(same->stats().walks, before.walks) << "its own walks come on top";
  EXPECT_EQ(clone(frozen, 1, 1)->stats().walks, 0u);
}

// Once its save has ended, the template gives the VM going on its pages: what the VM copied
// is no longer held twice, what it shares becomes its own (a write keeps the frame), and
// what it never touched moves on its first touch.
TEST_F(VmTemplateTest, AfterTheSaveTheTemplateHandsItsPagesToTheVmGoingOn) {
  FrozenVm frozen = frozen_of(booted(kPrintAbAndExit7, 3));
  std::unique_ptr<Vm> next = restore_vm(vm_image(frozen), frames_, sink(),
                                         {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true});
  const std::vector<uint8_t> other(kPageSize, 0x99);
  ASSERT_TRUE(next->memory().write(data_page(0), other.data(), kPageSize));  // a copy: held twice
  EXPECT_EQ(page_of(*next, data_page(1)), filled(1));                        // shared
  const Hpa shared = next->memory().mapping(data_page(1))->hpa;
  ASSERT_EQ(frames_.refcount(shared), 2u);
  const uint64_t resident = frames_.stats().frames_resident;
  EXPECT_EQ(frozen.tmpl->trim(next->memory(), Gpa{0}, Gpa{kMem}), 0u) << "not before hand_over";

  frozen.tmpl->hand_over();
  const uint64_t trimmed = frozen.tmpl->trim(next->memory(), Gpa{0}, Gpa{kMem});
  EXPECT_GE(trimmed, 2u);
  EXPECT_FALSE(frozen.tmpl->memory().mapping(data_page(0))) << "the template's old copy is gone";
  EXPECT_FALSE(frozen.tmpl->memory().mapping(data_page(1)));
  EXPECT_EQ(frames_.refcount(shared), 1u);
  EXPECT_LT(frames_.stats().frames_resident, resident) << "data page 0's old frame was freed";
  const uint64_t allocations = frames_.stats().allocations;
  ASSERT_TRUE(next->memory().write(data_page(1), other.data(), kPageSize));
  EXPECT_EQ(next->memory().mapping(data_page(1))->hpa, shared) << "written in place, no copy";
  EXPECT_EQ(page_of(*next, data_page(2)), filled(2)) << "moved on its first touch";
  EXPECT_FALSE(frozen.tmpl->memory().mapping(data_page(2)));
  EXPECT_EQ(frozen.tmpl->released(), trimmed + 1);
  ASSERT_TRUE(next->memory().write(data_page(2), other.data(), kPageSize));
  EXPECT_EQ(frames_.stats().allocations, allocations) << "no frame copied after the handover";
  run_to_end(*next);
  EXPECT_EQ(next->exit_status(), 7);
}

// The file written in the background holds the memory as it was frozen, whatever the VM
// going on from the template writes meanwhile.
TEST_F(VmTemplateTest, ABackgroundSaveWritesTheFrozenMemoryWhileAVmGoesOn) {
  const std::string path = ::testing::TempDir() + "vm_template_bg.snap";
  FrozenVm frozen = frozen_of(booted(kPrintAbAndExit7, 3));
  std::unique_ptr<Vm> next = restore_vm(vm_image(frozen), frames_, sink(),
                                         {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = true});
  BackgroundSave save(frozen.tmpl, path, {.compress = true, .parent = nullptr, .parent_name = {}});
  const std::vector<uint8_t> other(kPageSize, 0x99);
  for (uint64_t i = 0; i < kPages; ++i) ASSERT_TRUE(next->memory().write(data_page(i), other.data(), kPageSize));
  run_to_end(*next);
  const BackgroundSave::Result& r = save.finish();
  ASSERT_TRUE(r.error.empty()) << r.error;
  EXPECT_GT(r.stats.pages_stored, kPages);
  auto image = std::make_shared<SnapshotImage>(load_snapshot_chain(path), frames_, false);
  std::unique_ptr<Vm> back = restore_vm(vm_image(image), frames_, sink(), {});
  for (uint64_t i = 0; i < kPages; ++i) EXPECT_EQ(page_of(*back, data_page(i)), filled(i)) << i;
  run_to_end(*back);
  EXPECT_EQ(back->exit_status(), 7);
  std::filesystem::remove(path);
}

TEST_F(VmTemplateTest, AFailedBackgroundSaveSaysWhyAndLeavesNoFile) {
  const std::string path = ::testing::TempDir() + "no-such-dir/vm.snap";
  FrozenVm frozen = frozen_of(booted(kPrintAbAndExit7, 3));
  BackgroundSave save(frozen.tmpl, path, {});
  const BackgroundSave::Result& r = save.finish();
  EXPECT_NE(r.error.find(path), std::string::npos) << r.error;
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(VmTemplateTest, AFullSaveNeedsTheTemplatesPagesMaterialized) {
  SaveStats s;
  const std::vector<uint8_t> file =
      encode_vm(*booted(kPrintAbAndExit7, 3), {.compress = false, .parent = nullptr, .parent_name = {}}, s);
  auto image = std::make_shared<SnapshotImage>(std::vector<Snapshot>{parse_snapshot(file, nullptr)}, frames_, false);
  FrozenVm frozen = frozen_of(
      restore_vm(vm_image(image), frames_, sink(), {.lazy = true, .vm_id = 0, .clone = 0, .same_vm = false}));
  EXPECT_THROW(BackgroundSave(frozen.tmpl, ::testing::TempDir() + "never.snap", {}), std::logic_error);
  auto stopped = booted(kPrintAbAndExit7, 0);
  run_to_end(*stopped);
  EXPECT_THROW((void)frozen_of(std::move(stopped)), std::invalid_argument);
}

}  // namespace
}  // namespace densevm
