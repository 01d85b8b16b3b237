#include "vmm/vm_image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_image.h"
#include "tests/support/tiny_elf.h"
#include "vmm/boot.h"

namespace densevm {
namespace {

using namespace snapshot;

using densevm::testing::tiny_elf;

struct Captured {
  std::vector<std::string> lines;
  Vm::ConsoleSink sink() {
    return [this](int, std::string_view l) { lines.emplace_back(l); };
  }
};

// mov dx,0x3f8; mov al,'A'; out dx,al; mov al,'B'; out dx,al; mov al,'\n'; out dx,al;
// mov al,7; out 0xf4,al
const std::vector<uint8_t> kPrintAbAndExit7 = {0x66, 0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, 0xb0, 'B',
                                               0xee, 0xb0, '\n', 0xee, 0xb0, 0x07, 0xe6, 0xf4};
constexpr uint64_t kMem = 16 << 20;

// A VM with recognisable pages: 0x400000 + i * 4 KiB holds byte i + 1, for i < kPages.
constexpr uint64_t kPages = 8;
constexpr uint64_t kData = 0x400000;

void fill_pages(Vm& vm) {
  for (uint64_t i = 0; i < kPages; ++i) {
    const std::vector<uint8_t> page(kPageSize, static_cast<uint8_t>(i + 1));
    ASSERT_TRUE(vm.memory().write(Gpa{kData + i * kPageSize}, page.data(), page.size()));
  }
}

class VmSnapshot : public ::testing::Test {
 protected:
  // The guest stopped after 'A' went out: the UART holds a partial line.
  std::unique_ptr<Vm> booted_after_a() {
    auto vm = std::make_unique<Vm>(frames_, parse_elf(tiny_elf(kPrintAbAndExit7)),
                                   VmConfig{.id = 0, .mem_bytes = kMem, .cmdline = ""}, out_.sink());
    EXPECT_TRUE(vm->run_slice(3));
    return vm;
  }
  std::vector<uint8_t> small_file(bool compress) {
    auto vm = booted_after_a();
    SaveStats s;
    return encode_vm(*vm, {.compress = compress, .parent = nullptr, .parent_name = {}}, s);
  }
  static std::vector<uint8_t> encode(Vm& vm, SaveStats& s) {
    return encode_vm(vm, {.compress = false, .parent = nullptr, .parent_name = {}}, s);
  }
  // `file` must outlive what this returns: the snapshot's pages point into it.
  static Snapshot parse(const std::vector<uint8_t>& file, bool verify_pages = true) {
    return parse_snapshot(file, nullptr, verify_pages);
  }
  std::shared_ptr<SnapshotImage> image(const Snapshot& snap, bool shared = false) {
    return std::make_shared<SnapshotImage>(std::vector<Snapshot>{snap}, frames_, shared);
  }
  std::unique_ptr<Vm> restore(const Snapshot& snap, Captured& out, const RestoreOptions& o = {}) {
    return restore_vm(vm_image(image(snap)), frames_, out.sink(), o);
  }
  static std::vector<uint8_t> page_of(Vm& vm, uint64_t gpa) {
    std::vector<uint8_t> bytes(kPageSize);
    EXPECT_TRUE(vm.memory().read(Gpa{gpa}, bytes.data(), bytes.size()));
    return bytes;
  }

  FrameStore frames_{uint64_t{1} << 30};
  Captured out_;
};

TEST_F(VmSnapshot, RestoredVmFinishesThePartialLineAndCountsOn) {
  for (bool compress : {false, true}) {
    const std::vector<uint8_t> file = small_file(compress);
    Captured restored;
    std::unique_ptr<Vm> vm = restore(parse(file), restored);
    while (vm->run_slice(1000)) {}
    ASSERT_EQ(vm->state(), Vm::State::kExited) << vm->failure();
    EXPECT_EQ(vm->exit_status(), 7);
    EXPECT_EQ(restored.lines, std::vector<std::string>{"AB"});
    EXPECT_EQ(vm->stats().instructions, 9u);
  }
  EXPECT_TRUE(out_.lines.empty());  // the originals never finished their line
}

TEST_F(VmSnapshot, ElidesZeroPagesAndStoresIdenticalPagesOnce) {
  auto vm = booted_after_a();
  std::vector<uint8_t> page(kPageSize, 0x5a);
  for (uint64_t gpa : {0x400000, 0x401000, 0x402000}) {
    ASSERT_TRUE(vm->memory().write(Gpa{gpa}, page.data(), page.size()));
  }
  std::vector<uint8_t> zero(kPageSize, 0);
  ASSERT_TRUE(vm->memory().write(Gpa{0x500000}, zero.data(), zero.size()));
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Snapshot snap = parse(file);
  EXPECT_GE(s.zero_pages, 1u);
  EXPECT_GE(s.duplicate_pages, 2u);
  EXPECT_EQ(s.pages_mapped, s.pages_stored + s.zero_pages + s.duplicate_pages);
  EXPECT_EQ(snap.stored_pages(), s.pages_stored);
  EXPECT_EQ(snap.zero_pages, s.zero_pages);

  Captured restored;
  std::unique_ptr<Vm> copy = restore(snap, restored);
  EXPECT_EQ(page_of(*copy, 0x402000), page);
}

// Saving a restored VM gives the same state record: every device restores all it saves.
TEST_F(VmSnapshot, SaveRestoreSaveIsAFixedPoint) {
  auto vm = booted_after_a();
  vm->balloon().set_target_pages(64);
  StateWriter first;
  write_record(first, vm->save());
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Snapshot snap = parse(file);
  Captured restored;
  std::unique_ptr<Vm> copy = restore(snap, restored);
  StateWriter second;
  write_record(second, copy->save());
  EXPECT_EQ(first.bytes(), second.bytes());
  EXPECT_EQ(copy->balloon().stats().target_pages, 64u);
  EXPECT_EQ(copy->virtual_time(), vm->virtual_time());
}

TEST_F(VmSnapshot, EveryTruncationIsRefusedCleanly) {
  for (bool compress : {false, true}) {
    const std::vector<uint8_t> file = small_file(compress);
    for (size_t n = 0; n < file.size(); ++n) {
      EXPECT_THROW((void)parse_snapshot(std::span(file).first(n), nullptr), SnapshotError) << n;
    }
  }
}

TEST_F(VmSnapshot, AFlippedBitNamesTheSectionWhoseChecksumFails) {
  const std::vector<uint8_t> file = small_file(false);
  const Container c = decode_container(file);
  for (const SectionView& s : c.sections) {
    std::vector<uint8_t> bad = file;
    const size_t at = static_cast<size_t>(s.payload.data() - file.data()) + s.payload.size() / 2;
    bad[at] ^= 0x10;
    try {
      (void)parse(bad);
      ADD_FAILURE() << section_name(s.id);
    } catch (const SnapshotError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("checksum mismatch in the ") +
                                           section_name(s.id)),
                std::string::npos)
          << e.what();
    }
  }
}

// A state record with valid checksums but hostile contents (a crafted file) is refused, or
// restored and run as any hostile guest is: never read past its end or trusted for a size.
TEST_F(VmSnapshot, CraftedStateRecordsNeverCrashTheRestore) {
  const std::vector<uint8_t> file = small_file(false);
  const Container c = decode_container(file);
  const std::span<const uint8_t> state = c.section(SectionId::kState);
  std::vector<Section> sections;
  for (const SectionView& v : c.sections) sections.push_back({v.id, {v.payload.begin(), v.payload.end()}});
  size_t refused = 0, restored_count = 0;
  for (size_t i = 0; i < state.size(); ++i) {
    std::vector<uint8_t>& payload = sections[1].payload;
    payload.assign(state.begin(), state.end());
    payload[i] ^= 0xff;
    const std::vector<uint8_t> crafted = encode_container(0, sections);
    Captured restored;
    try {
      std::unique_ptr<Vm> vm = restore(parse(crafted), restored);
      for (int slice = 0; slice < 10 && vm->run_slice(1000); ++slice) {}
      ++restored_count;
    } catch (const SnapshotError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(restored_count, 0u);
  EXPECT_EQ(refused + restored_count, state.size());
}

// The same for the index and lineage sections: every byte flipped in turn (checksums made
// valid again), each file is refused with a SnapshotError or restores a VM whose memory reads
// and runs safely, lazily and eagerly.
TEST_F(VmSnapshot, CraftedIndexesAndLineagesNeverCrashTheRestore) {
  auto vm = booted_after_a();
  fill_pages(*vm);
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Container c = decode_container(file);
  std::vector<Section> sections;
  for (const SectionView& v : c.sections) sections.push_back({v.id, {v.payload.begin(), v.payload.end()}});
  for (const size_t which : {size_t{2}, size_t{4}}) {  // index, lineage
    const std::vector<uint8_t> original = sections[which].payload;
    size_t refused = 0, restored_count = 0;
    for (size_t i = 0; i < original.size(); ++i) {
      sections[which].payload = original;
      sections[which].payload[i] ^= 0x5a;
      const std::vector<uint8_t> crafted = encode_container(0, sections);
      try {
        const Snapshot snap = parse(crafted);
        Captured out;
        std::unique_ptr<Vm> copy = restore_vm(vm_image(image(snap)), frames_, out.sink(), {.lazy = i % 2 == 0, .vm_id = 0, .clone = 0});
        std::vector<uint8_t> bytes(kPageSize);
        for (uint64_t p = 0; p < kPages; ++p) (void)copy->memory().read(Gpa{kData + p * kPageSize}, bytes.data(), bytes.size());
        for (int slice = 0; slice < 10 && copy->run_slice(1000); ++slice) {}
        ++restored_count;
      } catch (const SnapshotError&) {
        ++refused;
      }
    }
    sections[which].payload = original;
    EXPECT_GT(refused, 0u) << which;
    EXPECT_EQ(refused + restored_count, original.size());
  }
}

// A version-2 file (written before the vCPU had x87/SSE state) restores, with the reset
// FPU state; a version-3 record claiming to be version 2 is refused (bytes left over).
TEST_F(VmSnapshot, ReadsVersion2Files) {
  auto vm_a = booted_after_a();
  SaveStats stats;
  const std::vector<uint8_t> file = encode(*vm_a, stats);
  const Container c = decode_container(file);
  ASSERT_EQ(c.version, 4u);
  std::vector<Section> sections;
  for (const SectionView& v : c.sections) sections.push_back({v.id, {v.payload.begin(), v.payload.end()}});
  // The config as version 2 wrote it: no NUMA node (version 4's last u32).
  sections[0].payload.resize(sections[0].payload.size() - 4);
  // The same VM's state record as version 2 wrote it: no x87/SSE, ring-3 or Linux platform.
  StateWriter v2_state(2);
  write_record(v2_state, vm_a->save());
  ASSERT_LT(v2_state.bytes().size(), sections[1].payload.size());
  sections[1].payload = v2_state.bytes();
  std::vector<uint8_t> v2 = encode_container(0, sections);
  v2[8] = 2;
  const Snapshot snap = parse(v2);
  EXPECT_EQ(snap.version, 2u);
  Captured restored;
  std::unique_ptr<Vm> vm = restore(snap, restored);
  while (vm->run_slice(1000)) {}
  ASSERT_EQ(vm->state(), Vm::State::kExited) << vm->failure();
  EXPECT_EQ(vm->exit_status(), 7);
  EXPECT_EQ(restored.lines, std::vector<std::string>{"AB"});

  std::vector<uint8_t> lying = file;
  lying[8] = 2;
  Captured unused;
  EXPECT_THROW((void)restore(parse(lying), unused), SnapshotError);
}

// Version 4 records the VM's home NUMA node in the config; a restore prefers that node when
// the host has it (and says where it went when not); a version-3 file has no node.
TEST_F(VmSnapshot, RecordsTheHomeNodeAndReadsVersion3FilesWithout) {
  NumaPlacement two(Topology::uniform(2, uint64_t{1} << 30, 1), *NumaSetting::parse("auto"));
  FrameStore frames(two.pool_specs(uint64_t{1} << 30));
  VmConfig config{.id = 0, .mem_bytes = kMem, .cmdline = ""};
  config.numa_home = 1;
  config.frame_pool = 1;
  config.numa_node = 1;
  Vm vm(frames, parse_elf(tiny_elf(kPrintAbAndExit7)), config, out_.sink());
  ASSERT_TRUE(vm.run_slice(3));
  SaveStats stats;
  const std::vector<uint8_t> file = encode(vm, stats);
  const Snapshot snap = parse(file);
  EXPECT_EQ(snap.config.numa_node, 1);

  // Restored on a host of two nodes: back on node 1 (auto would have picked node 0 first),
  // its pages loaded into node 1's pool.
  Captured out;
  std::unique_ptr<Vm> back = restore_vm(vm_image(std::make_shared<SnapshotImage>(std::vector<Snapshot>{snap}, frames, false)),
                                        frames, out.sink(), {.numa = &two});
  EXPECT_EQ(back->config().numa_home, 1u);
  EXPECT_EQ(back->config().numa_node, 1);
  EXPECT_EQ(back->config().saved_numa_node, 1);
  back->memory().for_each_mapping([&](Gpa, Hpa hpa, EptPerms) { EXPECT_EQ(frames.pool_of(hpa), 1u); });
  // On a host of one node: placed on node 0, the snapshot's node kept to say so.
  NumaPlacement one(Topology::uniform(1, uint64_t{1} << 30, 1), *NumaSetting::parse("auto"));
  FrameStore one_frames(one.pool_specs(uint64_t{1} << 30));
  std::unique_ptr<Vm> moved = restore_vm(
      vm_image(std::make_shared<SnapshotImage>(std::vector<Snapshot>{snap}, one_frames, false)), one_frames,
      out.sink(), {.numa = &one});
  EXPECT_EQ(moved->config().numa_node, 0);
  EXPECT_EQ(moved->config().saved_numa_node, 1);

  // The same file as version 3 wrote it: the config ends before the node.
  const Container c = decode_container(file);
  std::vector<Section> sections;
  for (const SectionView& v : c.sections) sections.push_back({v.id, {v.payload.begin(), v.payload.end()}});
  sections[0].payload.resize(sections[0].payload.size() - 4);
  std::vector<uint8_t> v3 = encode_container(0, sections);
  v3[8] = 3;
  const Snapshot old = parse(v3);
  EXPECT_EQ(old.version, 3u);
  EXPECT_FALSE(old.config.numa_node.has_value());
  Captured restored;
  std::unique_ptr<Vm> from_v3 = restore(old, restored);
  EXPECT_FALSE(from_v3->config().saved_numa_node.has_value());
  while (from_v3->run_slice(1000)) {}
  EXPECT_EQ(from_v3->exit_status(), 7);
  EXPECT_EQ(restored.lines, std::vector<std::string>{"AB"});
  // A version-4 config with an impossible node is refused.
  sections[0].payload.insert(sections[0].payload.end(), {0x00, 0x10, 0x00, 0x00});  // node 4096
  std::vector<uint8_t> bad = encode_container(0, sections);
  bad[8] = 4;
  EXPECT_THROW((void)parse(bad), SnapshotError);
}

TEST_F(VmSnapshot, RefusesWrongMagicVersionAndFlags) {
  const std::vector<uint8_t> file = small_file(false);
  std::vector<uint8_t> magic = file;
  magic[0] = 'X';
  EXPECT_THROW((void)parse(magic), SnapshotError);
  std::vector<uint8_t> future = file;
  future[8] = 5;
  EXPECT_THROW((void)parse(future), SnapshotError);
  std::vector<uint8_t> version = file;
  version[8] = 1;
  try {
    (void)parse(version);
    ADD_FAILURE();
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find("version 1"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> flags = file;
  flags[12] = 0x80;
  EXPECT_THROW((void)parse(flags), SnapshotError);
  std::vector<uint8_t> diff_flag = file;  // a diff without a parent in its lineage
  diff_flag[12] = static_cast<uint8_t>(kFlagDiff);
  EXPECT_THROW((void)parse(diff_flag), SnapshotError);
  std::vector<uint8_t> trailing = file;
  trailing.push_back(0);
  EXPECT_THROW((void)parse(trailing), SnapshotError);
}

TEST_F(VmSnapshot, RefusesToSaveAStoppedVm) {
  auto vm = booted_after_a();
  while (vm->run_slice(1000)) {}
  SaveStats s;
  EXPECT_THROW((void)encode(*vm, s), std::runtime_error);
}

TEST_F(VmSnapshot, LazyRestoreMapsPagesOnFirstTouchOnly) {
  auto vm = booted_after_a();
  fill_pages(*vm);
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Snapshot snap = parse(file, /*verify_pages=*/false);
  EXPECT_FALSE(snap.pages_verified);
  const auto img = image(snap);
  Captured restored;
  std::unique_ptr<Vm> copy = restore_vm(vm_image(img), frames_, restored.sink(), {.lazy = true, .vm_id = 0, .clone = 0});
  const uint64_t before = copy->memory().resident_pages();
  EXPECT_LT(before, s.pages_mapped);  // only what restoring itself touched
  EXPECT_EQ(page_of(*copy, kData + 3 * kPageSize), std::vector<uint8_t>(kPageSize, 4));
  EXPECT_EQ(copy->memory().resident_pages(), before + 1);
  EXPECT_EQ(img->fetches(), before + 1);
  while (copy->run_slice(1000)) {}
  EXPECT_EQ(copy->exit_status(), 7);
  EXPECT_EQ(restored.lines, std::vector<std::string>{"AB"});
}

TEST_F(VmSnapshot, ALazyPageThatFailsItsHashIsNeverMapped) {
  auto vm = booted_after_a();
  fill_pages(*vm);
  SaveStats s;
  std::vector<uint8_t> file = encode(*vm, s);
  const Container c = decode_container(file);
  const std::span<const uint8_t> pages = c.section(SectionId::kPages);
  const size_t page_offset = static_cast<size_t>(pages.data() - file.data());
  // Corrupt every stored page whose bytes are all 5 (page 4 of fill_pages).
  size_t corrupted = 0;
  for (size_t off = 0; off < pages.size(); off += kPageSize) {
    if (pages[off] == 5 && pages[off + kPageSize - 1] == 5) {
      file[page_offset + off + 17] ^= 1;
      ++corrupted;
    }
  }
  ASSERT_EQ(corrupted, 1u);
  EXPECT_THROW((void)parse(file), SnapshotError);  // eager: the section checksum
  const Snapshot snap = parse(file, /*verify_pages=*/false);
  Captured restored;
  std::unique_ptr<Vm> copy = restore_vm(vm_image(image(snap)), frames_, restored.sink(), {.lazy = true, .vm_id = 0, .clone = 0});
  std::vector<uint8_t> bytes(kPageSize);
  EXPECT_FALSE(copy->memory().read(Gpa{kData + 4 * kPageSize}, bytes.data(), bytes.size()));
  EXPECT_FALSE(copy->memory().mapping(Gpa{kData + 4 * kPageSize}));
  EXPECT_EQ(copy->memory().populate(Gpa{kData + 4 * kPageSize}), GuestMemory::Populate::kSourceCorrupt);
  EXPECT_EQ(page_of(*copy, kData + 5 * kPageSize), std::vector<uint8_t>(kPageSize, 6));
  // And an eager restore of the same file refuses before anything runs.
  EXPECT_THROW((void)restore_vm(vm_image(image(snap)), frames_, restored.sink(), {}), SnapshotError);
}

TEST_F(VmSnapshot, ClonesShareEveryFrameUntilTheyWriteIt) {
  auto vm = booted_after_a();
  fill_pages(*vm);
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const auto img = image(parse(file), /*shared=*/true);
  Captured out;
  std::vector<std::unique_ptr<Vm>> clones;
  for (uint64_t k = 0; k < 3; ++k) {
    clones.push_back(restore_vm(vm_image(img), frames_, out.sink(), {.lazy = false, .vm_id = static_cast<int>(k), .clone = k}));
  }
  // One frame per stored page, however many clones map it.
  EXPECT_EQ(img->frames_loaded(), s.pages_stored);
  const Gpa page{kData + 2 * kPageSize};
  const Hpa shared = clones[0]->memory().mapping(page)->hpa;
  EXPECT_EQ(clones[1]->memory().mapping(page)->hpa, shared);
  EXPECT_EQ(frames_.refcount(shared), 4u);  // the image and three clones
  const uint8_t x = 0xee;
  ASSERT_TRUE(clones[1]->memory().write(page + 10, &x, 1));
  EXPECT_NE(clones[1]->memory().mapping(page)->hpa, shared);
  EXPECT_EQ(frames_.refcount(shared), 3u);
  EXPECT_EQ(page_of(*clones[0], page.value()), std::vector<uint8_t>(kPageSize, 3));
  EXPECT_EQ(page_of(*clones[1], page.value())[10], 0xee);
  for (auto& c : clones) {
    while (c->run_slice(1000)) {}
    EXPECT_EQ(c->exit_status(), 7);
  }
  EXPECT_EQ(out.lines, (std::vector<std::string>{"AB", "AB", "AB"}));
}

TEST_F(VmSnapshot, EveryRestoreGetsAGenerationIdOfItsOwnAndRepeatsIt) {
  auto vm = booted_after_a();
  const Vm::GenerationId original = vm->generation_id();
  EXPECT_NE(original, Vm::GenerationId{});
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Snapshot snap = parse(file);
  Captured out;
  std::vector<Vm::GenerationId> ids;
  for (uint64_t clone : {0, 1, 2, 1}) {
    ids.push_back(restore(snap, out, {.lazy = clone % 2 == 1, .vm_id = 0, .clone = clone})->generation_id());
  }
  EXPECT_NE(ids[0], original);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[1], ids[2]);
  EXPECT_EQ(ids[1], ids[3]);  // the same restore, the same id: runs repeat exactly
  uint64_t words[2];
  ASSERT_TRUE(vm->memory().read(Gpa{kBootGenerationId}, words, sizeof words));
  EXPECT_EQ((Vm::GenerationId{words[0], words[1]}), original);
}

// A VM built blank before a checkpoint's pause and filled from the image in it is the VM
// restore_vm makes: same generation id, same run; a VM that has run, or one of another size,
// is refused.
TEST_F(VmSnapshot, ABlankVmFilledFromTheImageIsTheRestoredVm) {
  auto vm = booted_after_a();
  SaveStats s;
  const std::vector<uint8_t> file = encode(*vm, s);
  const Snapshot snap = parse(file);
  const std::shared_ptr<SnapshotImage> img = image(snap);
  const RestoreOptions o{.lazy = true, .vm_id = 0, .clone = 3};
  Captured whole, in_two;
  std::unique_ptr<Vm> restored = restore_vm(vm_image(img), frames_, whole.sink(), o);
  std::unique_ptr<Vm> blank = blank_vm(snapshot_config(vm->config()), frames_, in_two.sink(), o, nullptr);
  EXPECT_EQ(blank->memory().source(), nullptr);  // nothing of the image yet
  std::unique_ptr<Vm> filled = restore_into(std::move(blank), vm_image(img), o);
  EXPECT_EQ(filled->generation_id(), restored->generation_id());
  for (Vm* v : {restored.get(), filled.get()}) {
    while (v->run_slice(1000)) {}
    ASSERT_EQ(v->state(), Vm::State::kExited) << v->failure();
  }
  EXPECT_EQ(filled->exit_status(), 7);
  EXPECT_EQ(filled->stats().instructions, restored->stats().instructions);
  EXPECT_EQ(in_two.lines, whole.lines);

  EXPECT_THROW((void)restore_into(std::move(filled), vm_image(img), o), std::invalid_argument);  // has run
  std::unique_ptr<Vm> once = restore_into(blank_vm(snapshot_config(vm->config()), frames_, in_two.sink(), o, nullptr),
                                          vm_image(img), o);
  EXPECT_THROW((void)restore_into(std::move(once), vm_image(img), o), std::invalid_argument);  // filled already
  VmConfig other = vm->config();
  other.mem_bytes = 2 * kMem;
  EXPECT_THROW((void)restore_into(blank_vm(snapshot_config(other), frames_, in_two.sink(), o, nullptr), vm_image(img), o),
               std::invalid_argument);
}

// A diff against the snapshot a VM was restored from holds only what changed, and the chain
// restores the VM's memory exactly: changed, zeroed and ballooned pages included.
TEST_F(VmSnapshot, ADiffStoresOnlyChangesAndTheChainRestoresThemAll) {
  auto vm = booted_after_a();
  fill_pages(*vm);
  SaveStats base_stats;
  const std::vector<uint8_t> base_file = encode(*vm, base_stats);
  const Snapshot base = parse(base_file);
  for (bool lazy : {false, true}) {
    SCOPED_TRACE(lazy ? "lazy" : "eager");
    const auto parent = image(base);
    Captured out;
    std::unique_ptr<Vm> child = restore_vm(vm_image(parent), frames_, out.sink(), {.lazy = lazy, .vm_id = 0, .clone = 0});
    const std::vector<uint8_t> changed(kPageSize, 0x77), zero(kPageSize, 0);
    ASSERT_TRUE(child->memory().write(Gpa{kData + 1 * kPageSize}, changed.data(), kPageSize));
    ASSERT_TRUE(child->memory().write(Gpa{kData + 2 * kPageSize}, zero.data(), kPageSize));
    ASSERT_TRUE(child->memory().write(Gpa{kData + 100 * kPageSize}, changed.data(), kPageSize));
    EXPECT_TRUE(child->memory().discard(Gpa{kData + 6 * kPageSize}) || lazy);
    (void)child->memory().discard(Gpa{kData + 7 * kPageSize});

    SaveStats s;
    const std::vector<uint8_t> diff_file =
        encode_vm(*child, {.compress = false, .parent = parent.get(), .parent_name = "base.snap"}, s);
    const Snapshot diff = parse(diff_file);
    EXPECT_TRUE(diff.is_diff());
    EXPECT_EQ(diff.lineage.parent_id, base.lineage.id);
    EXPECT_EQ(diff.lineage.parent_checksum, base.content_checksum);
    EXPECT_EQ(diff.lineage.parent_name, "base.snap");
    // Page 1 and page 100 changed (stored once: same contents) plus the generation id's
    // page; pages 2, 6 and 7 dropped.
    EXPECT_EQ(s.pages_stored, 2u);
    EXPECT_EQ(s.duplicate_pages, 1u);
    EXPECT_EQ(s.dropped_pages, 3u);
    EXPECT_LT(diff_file.size(), base_file.size());

    const auto chain = std::make_shared<SnapshotImage>(std::vector<Snapshot>{base, diff}, frames_, false);
    Captured again;
    std::unique_ptr<Vm> back = restore_vm(vm_image(chain), frames_, again.sink(), {});
    EXPECT_EQ(page_of(*back, kData), std::vector<uint8_t>(kPageSize, 1));
    EXPECT_EQ(page_of(*back, kData + 1 * kPageSize), changed);
    EXPECT_EQ(page_of(*back, kData + 2 * kPageSize), zero);
    EXPECT_EQ(page_of(*back, kData + 3 * kPageSize), std::vector<uint8_t>(kPageSize, 4));
    EXPECT_EQ(page_of(*back, kData + 6 * kPageSize), zero);
    EXPECT_EQ(page_of(*back, kData + 7 * kPageSize), zero);
    EXPECT_EQ(page_of(*back, kData + 100 * kPageSize), changed);
    while (back->run_slice(1000)) {}
    EXPECT_EQ(again.lines, std::vector<std::string>{"AB"});
  }
}

}  // namespace
}  // namespace densevm
