#include "cow-snapshots/vm_snapshot.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/tiny_elf.h"

namespace densevm::snapshot {
namespace {

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
    return encode_vm(*vm, compress, s);
  }

  FrameStore frames_{uint64_t{1} << 30};
  Captured out_;
};

TEST_F(VmSnapshot, RestoredVmFinishesThePartialLineAndCountsOn) {
  for (bool compress : {false, true}) {
    const std::vector<uint8_t> file = small_file(compress);
    Captured restored;
    std::unique_ptr<Vm> vm = restore_vm(parse_snapshot(file), frames_, restored.sink());
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
  const Snapshot snap = parse_snapshot(encode_vm(*vm, false, s));
  EXPECT_GE(s.zero_pages, 1u);
  EXPECT_GE(s.duplicate_pages, 2u);
  EXPECT_EQ(s.pages_mapped, s.pages_stored + s.zero_pages + s.duplicate_pages);
  EXPECT_EQ(snap.stored_pages(), s.pages_stored);
  EXPECT_EQ(snap.zero_pages, s.zero_pages);

  Captured restored;
  std::unique_ptr<Vm> copy = restore_vm(snap, frames_, restored.sink());
  std::vector<uint8_t> back(kPageSize);
  ASSERT_TRUE(copy->memory().read(Gpa{0x402000}, back.data(), back.size()));
  EXPECT_EQ(back, page);
}

// Saving a restored VM gives the same state record: every device restores all it saves.
TEST_F(VmSnapshot, SaveRestoreSaveIsAFixedPoint) {
  auto vm = booted_after_a();
  vm->balloon().set_target_pages(64);
  StateWriter first;
  vm->save(first);
  SaveStats s;
  const Snapshot snap = parse_snapshot(encode_vm(*vm, false, s));
  Captured restored;
  std::unique_ptr<Vm> copy = restore_vm(snap, frames_, restored.sink());
  StateWriter second;
  copy->save(second);
  EXPECT_EQ(first.bytes(), second.bytes());
  EXPECT_EQ(copy->balloon().stats().target_pages, 64u);
  EXPECT_EQ(copy->virtual_time(), vm->virtual_time());
}

TEST_F(VmSnapshot, EveryTruncationIsRefusedCleanly) {
  for (bool compress : {false, true}) {
    const std::vector<uint8_t> file = small_file(compress);
    for (size_t n = 0; n < file.size(); ++n) {
      EXPECT_THROW((void)parse_snapshot(std::span(file).first(n)), SnapshotError) << n;
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
      (void)parse_snapshot(bad);
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
      std::unique_ptr<Vm> vm = restore_vm(parse_snapshot(crafted), frames_, restored.sink());
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

TEST_F(VmSnapshot, RefusesWrongMagicVersionAndFlags) {
  const std::vector<uint8_t> file = small_file(false);
  std::vector<uint8_t> magic = file;
  magic[0] = 'X';
  EXPECT_THROW((void)parse_snapshot(magic), SnapshotError);
  std::vector<uint8_t> version = file;
  version[8] = 2;
  try {
    (void)parse_snapshot(version);
    ADD_FAILURE();
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> flags = file;
  flags[12] = 0x80;
  EXPECT_THROW((void)parse_snapshot(flags), SnapshotError);
  std::vector<uint8_t> trailing = file;
  trailing.push_back(0);
  EXPECT_THROW((void)parse_snapshot(trailing), SnapshotError);
}

TEST_F(VmSnapshot, RefusesToSaveAStoppedVm) {
  auto vm = booted_after_a();
  while (vm->run_slice(1000)) {}
  SaveStats s;
  EXPECT_THROW((void)encode_vm(*vm, false, s), std::runtime_error);
}

}  // namespace
}  // namespace densevm::snapshot
