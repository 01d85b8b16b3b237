#include "vmm/elf_loader.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

#include "tests/support/tiny_elf.h"

namespace densevm {
namespace {

// A two-segment kernel: code at 1 MiB (filesz 4), bss-like data at 2 MiB (filesz 2, memsz 0x100).
std::vector<uint8_t> two_segment_elf() {
  constexpr size_t kPh = sizeof(Elf64_Ehdr), kData = kPh + 2 * sizeof(Elf64_Phdr);
  std::vector<uint8_t> file(kData + 6);
  Elf64_Ehdr eh = testing::elf64_header(ET_EXEC);
  eh.e_entry = 0x100000;
  eh.e_phnum = 2;
  std::memcpy(file.data(), &eh, sizeof eh);
  Elf64_Phdr code{PT_LOAD, PF_R | PF_X, kData, 0x100000, 0x100000, 4, 4, 0x1000};
  Elf64_Phdr data{PT_LOAD, PF_R | PF_W, kData + 4, 0x200000, 0x200000, 2, 0x100, 0x1000};
  std::memcpy(file.data() + kPh, &code, sizeof code);
  std::memcpy(file.data() + kPh + sizeof(Elf64_Phdr), &data, sizeof data);
  const uint8_t payload[] = {0xf4, 0xeb, 0xfd, 0x90, 0xaa, 0xbb};  // hlt; jmp .-1; nop | data
  std::memcpy(file.data() + kData, payload, sizeof payload);
  return file;
}

// Edits a header in place through a copy (the byte buffer is not an Elf64_* object).
template <typename T, typename Edit>
void edit_at(std::vector<uint8_t>& file, size_t offset, Edit edit) {
  T t;
  std::memcpy(&t, file.data() + offset, sizeof t);
  edit(t);
  std::memcpy(file.data() + offset, &t, sizeof t);
}
template <typename Edit>
void edit_header(std::vector<uint8_t>& file, Edit edit) {
  edit_at<Elf64_Ehdr>(file, 0, edit);
}
template <typename Edit>
void edit_phdr(std::vector<uint8_t>& file, size_t i, Edit edit) {
  edit_at<Elf64_Phdr>(file, sizeof(Elf64_Ehdr) + i * sizeof(Elf64_Phdr), edit);
}

std::string error_of(const std::vector<uint8_t>& file) {
  try {
    (void)parse_elf(file);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ElfLoader, ParsesValidImage) {
  ElfImage image = parse_elf(two_segment_elf());
  EXPECT_EQ(image.entry, 0x100000u);
  ASSERT_EQ(image.segments.size(), 2u);
  EXPECT_EQ(image.segments[0].paddr, 0x100000u);
  EXPECT_EQ(image.segments[0].memsz, 4u);
  EXPECT_EQ(image.segments[0].bytes, (std::vector<uint8_t>{0xf4, 0xeb, 0xfd, 0x90}));
  EXPECT_EQ(image.segments[1].paddr, 0x200000u);
  EXPECT_EQ(image.segments[1].memsz, 0x100u);
  EXPECT_EQ(image.segments[1].bytes, (std::vector<uint8_t>{0xaa, 0xbb}));
  EXPECT_EQ(image.lowest_paddr, 0x100000u);
  EXPECT_EQ(image.end_paddr, 0x200100u);
}

TEST(ElfLoader, SkipsNonLoadSegments) {
  auto file = two_segment_elf();
  edit_phdr(file, 0, [](Elf64_Phdr& p) { p.p_type = PT_NOTE; });
  ElfImage image = parse_elf(file);
  ASSERT_EQ(image.segments.size(), 1u);
  EXPECT_EQ(image.lowest_paddr, 0x200000u);
}

TEST(ElfLoader, RejectsWrongFiles) {
  EXPECT_EQ(error_of({}), "not an ELF file");
  EXPECT_EQ(error_of({'#', '!', '/', 'b', 'i', 'n'}), "not an ELF file");

  auto file = two_segment_elf();
  file[EI_CLASS] = ELFCLASS32;
  EXPECT_EQ(error_of(file), "32-bit ELF file: densevm boots ELF64 x86-64 kernels");

  file = two_segment_elf();
  file[EI_DATA] = ELFDATA2MSB;
  EXPECT_EQ(error_of(file), "big-endian ELF file: densevm boots ELF64 x86-64 kernels");

  file = two_segment_elf();
  edit_header(file, [](Elf64_Ehdr& h) { h.e_machine = EM_AARCH64; });
  EXPECT_EQ(error_of(file), "ELF file is for machine 183, not x86-64");

  file = two_segment_elf();
  edit_header(file, [](Elf64_Ehdr& h) { h.e_type = ET_DYN; });
  EXPECT_EQ(error_of(file), "ELF file is not an executable (type 3)");
}

TEST(ElfLoader, RejectsBadSegments) {
  auto file = two_segment_elf();
  edit_phdr(file, 1, [](Elf64_Phdr& p) { p.p_filesz = 0x200; });
  EXPECT_EQ(error_of(file), "ELF segment 1 (paddr 0x200000) has filesz 0x200 > memsz 0x100");

  file = two_segment_elf();
  edit_phdr(file, 0, [](Elf64_Phdr& p) { p.p_offset = ~uint64_t{0} - 1; });
  EXPECT_NE(error_of(file).find("lies past the end of the file"), std::string::npos);

  file = two_segment_elf();
  edit_phdr(file, 1, [](Elf64_Phdr& p) { p.p_paddr = ~uint64_t{0} - 0x10; });
  EXPECT_NE(error_of(file).find("overflows the address space"), std::string::npos);

  file = two_segment_elf();
  edit_phdr(file, 1, [](Elf64_Phdr& p) { p.p_paddr = 0x100002; });
  EXPECT_NE(error_of(file).find("overlap"), std::string::npos);

  file = two_segment_elf();
  edit_phdr(file, 0, [](Elf64_Phdr& p) { p.p_type = PT_NOTE; });
  edit_phdr(file, 1, [](Elf64_Phdr& p) { p.p_type = PT_NULL; });
  EXPECT_EQ(error_of(file), "ELF file has no PT_LOAD segment");
}

TEST(ElfLoader, RejectsBadProgramHeaderTable) {
  auto file = two_segment_elf();
  edit_header(file, [](Elf64_Ehdr& h) { h.e_phnum = PN_XNUM; });
  EXPECT_EQ(error_of(file), "ELF file claims 65535 program headers (at most 1024 supported)");

  file = two_segment_elf();
  edit_header(file, [](Elf64_Ehdr& h) { h.e_phoff = ~uint64_t{0} - 8; });
  EXPECT_NE(error_of(file).find("truncated ELF file: program headers"), std::string::npos);

  file = two_segment_elf();
  edit_header(file, [](Elf64_Ehdr& h) { h.e_phentsize = 32; });
  EXPECT_EQ(error_of(file), "ELF program header entries are 32 bytes, expected 56");
}

// Every prefix of a valid file must fail cleanly (or parse), never read out of bounds.
TEST(ElfLoader, EveryTruncationFailsCleanly) {
  const auto file = two_segment_elf();
  for (size_t len = 0; len < file.size(); ++len) {
    std::vector<uint8_t> prefix(file.begin(), file.begin() + static_cast<ptrdiff_t>(len));
    const std::string error = error_of(prefix);
    EXPECT_NE(error, "(no error)") << "length " << len;
    EXPECT_EQ(error.find('\n'), std::string::npos);
  }
  EXPECT_EQ(error_of(file), "(no error)");
}

// Random bytes, and random corruption of a valid header, must only ever throw or parse.
TEST(ElfLoader, RandomInputNeverCrashes) {
  std::mt19937_64 rng(42);
  const auto valid = two_segment_elf();
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> file;
    if (round % 2 == 0) {
      file.resize(rng() % 512);
      for (auto& b : file) b = static_cast<uint8_t>(rng());
      if (file.size() >= SELFMAG && round % 4 == 0) std::memcpy(file.data(), ELFMAG, SELFMAG);
    } else {
      file = valid;
      for (int flips = 1 + static_cast<int>(rng() % 8); flips > 0; --flips) {
        file[rng() % file.size()] = static_cast<uint8_t>(rng());
      }
    }
    try {
      ElfImage image = parse_elf(file);
      for (const auto& s : image.segments) EXPECT_LE(s.bytes.size(), s.memsz);
    } catch (const std::runtime_error&) {
    }
  }
}

TEST(ElfLoader, LoadsFileAndNamesPathInErrors) {
  const std::string path = ::testing::TempDir() + "densevm_elf_test_" + std::to_string(::getpid());
  const auto valid = two_segment_elf();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(valid.data()),
             static_cast<std::streamsize>(valid.size()));
  EXPECT_EQ(load_elf_file(path).entry, 0x100000u);

  std::ofstream(path, std::ios::binary | std::ios::trunc) << "hello";
  try {
    (void)load_elf_file(path);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), path + ": not an ELF file");
  }
  ::unlink(path.c_str());

  try {
    (void)load_elf_file(path);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "cannot open " + path + ": No such file or directory");
  }
}

}  // namespace
}  // namespace densevm
