#include "planner/reference_pages.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "dedup/page_hash.h"
#include "planner/fit.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_elf.h"

namespace densevm::planner {
namespace {

std::vector<uint8_t> page(uint8_t fill) { return std::vector<uint8_t>(kPageBytes, fill); }
uint64_t hash(const std::vector<uint8_t>& p) { return xxh3_page(p.data()); }

void append(std::vector<uint8_t>& out, const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }

// One cpio "newc" entry.
void cpio_entry(std::vector<uint8_t>& out, const std::string& name, uint32_t mode, const std::vector<uint8_t>& data) {
  char h[111];
  std::snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", 1u, mode, 0u, 0u, 1u, 0u,
                static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u, name.size() + 1, 0u);
  append(out, std::string(h, 110));
  append(out, name);
  out.push_back(0);
  while (out.size() % 4) out.push_back(0);
  out.insert(out.end(), data.begin(), data.end());
  while (out.size() % 4) out.push_back(0);
}

class References : public ::testing::Test {
 protected:
  std::string write(const char* name, const std::vector<uint8_t>& bytes) const {
    return dir_.write(name, std::span<const uint8_t>(bytes));
  }
  densevm::testing::TempDir dir_{"ref"};
};

TEST_F(References, ACpioArchiveContributesEachMembersPagesFromItsStart) {
  std::vector<uint8_t> busybox = page(1);
  const std::vector<uint8_t> two = page(2);
  busybox.insert(busybox.end(), two.begin(), two.begin() + 100);  // a short last page
  std::vector<uint8_t> archive;
  cpio_entry(archive, "bin", 040755, {});
  cpio_entry(archive, "bin/busybox", 0100755, busybox);
  cpio_entry(archive, "init", 0100755, page(3));
  cpio_entry(archive, "TRAILER!!!", 0, {});
  const Reference r = read_reference("initramfs", write("initramfs.cpio", archive));
  EXPECT_EQ(r.layout, "cpio members (2)");
  EXPECT_EQ(r.file_pages, 3u);
  std::vector<uint8_t> tail(kPageBytes, 0);
  std::copy(two.begin(), two.begin() + 100, tail.begin());
  std::vector<uint64_t> want = {hash(page(1)), hash(tail), hash(page(3))};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(r.pages, want);
  const std::vector<uint8_t> cut(archive.begin(), archive.end() - 40);
  EXPECT_THROW((void)read_reference("x", write("cut.cpio", cut)), ImageError);
}

TEST_F(References, AnElfFileContributesItsLoadedSegments) {
  const std::vector<uint8_t> elf = densevm::testing::tiny_elf(std::vector<uint8_t>(2 * kPageBytes, 0x90));
  const Reference r = read_reference("kernel", write("k.elf", elf));
  EXPECT_EQ(r.layout, "ELF segments");
  EXPECT_EQ(r.pages, (std::vector<uint64_t>{hash(std::vector<uint8_t>(kPageBytes, 0x90))}));
}

TEST_F(References, MatchesCountWhatTheVmsHold) {
  const Reference r = read_reference("blob", write("blob", [] {
    std::vector<uint8_t> b = page(1);
    const auto p2 = page(2), p3 = page(3);
    b.insert(b.end(), p2.begin(), p2.end());
    b.insert(b.end(), p3.begin(), p3.end());
    return b;
  }()));
  const uint64_t other = hash(page(9));
  std::vector<Fingerprint> vms;
  vms.push_back(fingerprint_of("a", ImageKind::kRaw, {{0, 4}}, {hash(page(1)), hash(page(1)), hash(page(2)), other}));
  vms.push_back(fingerprint_of("b", ImageKind::kRaw, {{0, 2}}, {hash(page(1)), zero_page_hash()}));
  const ReferenceMatch m = match_reference(fleet_of(std::move(vms)), r);
  EXPECT_EQ(m.reference_pages, 3u);
  EXPECT_EQ(m.found_pages, 2u);
  EXPECT_EQ(m.in_every_vm, 1u);
  EXPECT_EQ(m.fleet_pages, 4u);
}

}  // namespace
}  // namespace densevm::planner
