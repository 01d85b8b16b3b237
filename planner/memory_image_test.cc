#include "planner/memory_image.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "dedup/page_hash.h"
#include "planner/qemu_dump.h"

namespace densevm::planner {
namespace {

std::vector<uint8_t> page_of(uint8_t fill) { return std::vector<uint8_t>(kPageBytes, fill); }

struct Load {
  uint64_t paddr;
  std::vector<uint8_t> bytes;  // p_filesz of them
  uint64_t memsz;
};

// An ELF core laid out as QEMU's dump.c lays it out: header, PT_NOTE, PT_LOADs, notes, memory.
std::vector<uint8_t> elf_core(const std::vector<Load>& loads, const std::vector<std::string>& note_names,
                              uint16_t type = ET_CORE, bool pn_xnum = false) {
  std::vector<uint8_t> notes;
  for (const std::string& name : note_names) {
    Elf64_Nhdr nh{static_cast<Elf64_Word>(name.size() + 1), 16, 0};
    notes.insert(notes.end(), reinterpret_cast<uint8_t*>(&nh), reinterpret_cast<uint8_t*>(&nh) + sizeof nh);
    std::vector<uint8_t> n(name.begin(), name.end());
    n.resize((name.size() + 1 + 3) & ~size_t{3}, 0);
    notes.insert(notes.end(), n.begin(), n.end());
    notes.insert(notes.end(), 16, 0xab);
  }
  const size_t phnum = 1 + loads.size();
  const size_t shdr = pn_xnum ? sizeof(Elf64_Shdr) : 0;
  const uint64_t notes_at = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr) + shdr;
  uint64_t data_at = notes_at + notes.size();
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = type;
  eh.e_machine = EM_X86_64;
  eh.e_version = EV_CURRENT;
  eh.e_phoff = sizeof(Elf64_Ehdr);
  eh.e_ehsize = sizeof(Elf64_Ehdr);
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = pn_xnum ? PN_XNUM : static_cast<Elf64_Half>(phnum);
  if (pn_xnum) {
    eh.e_shoff = sizeof(Elf64_Ehdr) + phnum * sizeof(Elf64_Phdr);
    eh.e_shentsize = sizeof(Elf64_Shdr);
    eh.e_shnum = 1;
  }
  std::vector<uint8_t> out(reinterpret_cast<uint8_t*>(&eh), reinterpret_cast<uint8_t*>(&eh) + sizeof eh);
  auto put = [&out](const auto& v) { out.insert(out.end(), reinterpret_cast<const uint8_t*>(&v), reinterpret_cast<const uint8_t*>(&v) + sizeof v); };
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = notes_at;
  note.p_filesz = note.p_memsz = notes.size();
  put(note);
  for (const Load& l : loads) {
    Elf64_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_offset = data_at;
    ph.p_paddr = ph.p_vaddr = l.paddr;
    ph.p_filesz = l.bytes.size();
    ph.p_memsz = l.memsz;
    put(ph);
    data_at += l.bytes.size();
  }
  if (pn_xnum) {
    Elf64_Shdr sh{};
    sh.sh_info = static_cast<Elf64_Word>(phnum);
    put(sh);
  }
  out.insert(out.end(), notes.begin(), notes.end());
  for (const Load& l : loads) out.insert(out.end(), l.bytes.begin(), l.bytes.end());
  return out;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class MemoryImages : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("densevm-img-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const char* name, const std::vector<uint8_t>& bytes) const {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return p;
  }
  static std::string error_of(const std::string& spec) {
    try {
      (void)read_memory_image(spec);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "(accepted)";
  }

  std::filesystem::path dir_;
};

TEST_F(MemoryImages, ARawFileIsHashedPageByPageFromAddressZero) {
  const std::string p = write("ram.bin", concat({page_of(1), page_of(0), page_of(1), page_of(7)}));
  uint64_t last = 0;
  const MemoryImage m = read_memory_image("raw:" + p, [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, 4 * kPageBytes);
    last = done;
  });
  EXPECT_EQ(last, 4 * kPageBytes);
  EXPECT_EQ(m.kind, ImageKind::kRaw);
  EXPECT_EQ(m.ranges, (std::vector<PageRun>{{0, 4}}));
  const std::vector<uint8_t> one = page_of(1), seven = page_of(7);
  EXPECT_EQ(m.page_hashes, (std::vector<uint64_t>{xxh3_page(one.data()), zero_page_hash(), xxh3_page(one.data()),
                                                  xxh3_page(seven.data())}));
  const Fingerprint fp = fingerprint_image("raw:" + p);
  EXPECT_EQ(fp.name, "ram.bin");
  EXPECT_EQ(fp.zero_pages, 1u);
  EXPECT_EQ(fp.distinct_pages, 2u);
}

TEST_F(MemoryImages, RawFilesMustBeNamedAndWholePages) {
  const std::string p = write("ram.bin", page_of(3));
  EXPECT_NE(error_of(p).find("raw:"), std::string::npos) << "no magic: the user names it raw";
  const std::string odd = write("odd.bin", std::vector<uint8_t>(kPageBytes + 5, 1));
  EXPECT_NE(error_of("raw:" + odd).find("whole number of 4 KiB pages"), std::string::npos);
  EXPECT_NE(error_of("raw:" + write("empty.bin", {})).find("empty"), std::string::npos);
  EXPECT_NE(error_of((dir_ / "missing").string()).find("cannot open"), std::string::npos);
}

TEST_F(MemoryImages, AQemuDumpIsReadByPhysicalAddressWithItsZeroTail) {
  // Two RAM blocks as microvm has them, the second beyond a hole; its last page is past
  // p_filesz and reads as zero.
  const std::vector<Load> loads = {{0, concat({page_of(1), page_of(2)}), 2 * kPageBytes},
                                   {0x100000, concat({page_of(2), page_of(0)}), 3 * kPageBytes}};
  const std::string p = write("vm.core", elf_core(loads, {"CORE", "QEMU", "VMCOREINFO"}));
  const MemoryImage m = read_memory_image(p);
  EXPECT_EQ(m.kind, ImageKind::kQemuDump);
  EXPECT_EQ(m.ranges, (std::vector<PageRun>{{0, 2}, {0x100000, 3}}));
  const std::vector<uint8_t> one = page_of(1), two = page_of(2);
  EXPECT_EQ(m.page_hashes, (std::vector<uint64_t>{xxh3_page(one.data()), xxh3_page(two.data()), xxh3_page(two.data()),
                                                  zero_page_hash(), zero_page_hash()}));
  const QemuDumpLayout layout = parse_qemu_dump(std::vector<uint8_t>(elf_core(loads, {"CORE", "QEMU"})));
  EXPECT_EQ(layout.cpus, 1u);
  EXPECT_FALSE(layout.vmcoreinfo);
}

TEST_F(MemoryImages, OverlappingSegmentsOfAPagingDumpCountAPageOnce) {
  const std::vector<Load> loads = {{0x2000, concat({page_of(5), page_of(6)}), 2 * kPageBytes},
                                   {0x0000, concat({page_of(1), page_of(2), page_of(9)}), 3 * kPageBytes}};
  const QemuDumpLayout layout = parse_qemu_dump(elf_core(loads, {"QEMU"}));
  ASSERT_EQ(layout.segments.size(), 2u);
  EXPECT_EQ(layout.segments[0].paddr, 0u);
  EXPECT_EQ(layout.segments[0].memsz, 3 * kPageBytes);
  EXPECT_EQ(layout.segments[1].paddr, 0x3000u) << "0x2000 came from the first segment";
  EXPECT_EQ(layout.segments[1].memsz, kPageBytes);
}

TEST_F(MemoryImages, ManySegmentsUsePnXnumAndTheSectionHeadersCount) {
  const std::vector<Load> loads = {{0, page_of(1), kPageBytes}, {0x1000, page_of(2), kPageBytes}};
  const QemuDumpLayout layout = parse_qemu_dump(elf_core(loads, {"QEMU"}, ET_CORE, /*pn_xnum=*/true));
  EXPECT_EQ(layout.segments.size(), 2u);
}

TEST_F(MemoryImages, AnElfCoreThatIsNotAQemuDumpIsRefused) {
  const std::vector<Load> loads = {{0, page_of(1), kPageBytes}};
  EXPECT_NE(error_of(write("process.core", elf_core(loads, {"CORE"}))).find("not a QEMU guest memory dump"),
            std::string::npos);
  EXPECT_NE(error_of(write("exe.elf", elf_core(loads, {"QEMU"}, ET_EXEC))).find("not a core dump"), std::string::npos);
  EXPECT_NE(error_of(write("odd.core", elf_core({{0x800, page_of(1), kPageBytes}}, {"QEMU"}))).find("page aligned"),
            std::string::npos);
}

TEST_F(MemoryImages, ATruncatedQemuDumpIsRefusedWhereverItEnds) {
  const std::vector<uint8_t> good = elf_core({{0, concat({page_of(1), page_of(2)}), 2 * kPageBytes}}, {"CORE", "QEMU"});
  for (size_t cut = 4; cut < good.size(); cut += 97) {
    const std::string p = write("cut.core", std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    EXPECT_NE(error_of(p).find("QEMU dump"), std::string::npos) << cut << ": " << error_of(p);
  }
}

}  // namespace
}  // namespace densevm::planner
