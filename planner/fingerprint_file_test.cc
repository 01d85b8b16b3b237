#include "planner/fingerprint_file.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "planner/internal/test_fingerprints.h"
#include "tests/support/temp_dir.h"

namespace densevm::planner {
namespace {

using testing::content;
using testing::kZero;

class FingerprintFile : public ::testing::Test {
 protected:
  std::string path(const char* name) const { return (dir_ / name).string(); }
  static std::vector<char> bytes_of(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  static void put(const std::string& p, const std::vector<char>& bytes) {
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  static Fingerprint sample() {
    std::vector<uint64_t> h;
    for (uint64_t i = 0; i < 3000; ++i) h.push_back(i % 3 == 0 ? kZero : content(i % 1000));
    Fingerprint fp = fingerprint_of("vm0.snap", ImageKind::kSnapshot, {{0, 1000}, {uint64_t{4} << 30, 2000}}, h, 64);
    fp.image_bytes = 123456;
    fp.working_set_pages = 77;
    return fp;
  }

  densevm::testing::TempDir dir_{"fp"};
};

TEST_F(FingerprintFile, RoundTripsWithAndWithoutPages) {
  const Fingerprint fp = sample();
  write_fingerprint(fp, path("vm0.fp"));
  for (const bool with_pages : {false, true}) {
    const Fingerprint back = read_fingerprint(path("vm0.fp"), with_pages);
    EXPECT_EQ(back.name, "vm0.snap");
    EXPECT_EQ(back.kind, ImageKind::kSnapshot);
    EXPECT_EQ(back.image_bytes, 123456u);
    EXPECT_EQ(back.ranges, fp.ranges);
    EXPECT_EQ(back.ram_pages, 3000u);
    EXPECT_EQ(back.zero_pages, 1000u);
    EXPECT_EQ(back.distinct_pages, fp.distinct_pages);
    EXPECT_EQ(back.working_set_pages, std::optional<uint64_t>(77));
    EXPECT_EQ(back.sketch.k(), 64u);
    EXPECT_TRUE(std::equal(back.sketch.values().begin(), back.sketch.values().end(), fp.sketch.values().begin(),
                           fp.sketch.values().end()));
    EXPECT_EQ(back.samples, fp.samples);
    EXPECT_EQ(back.page_hashes, with_pages ? fp.page_hashes : std::vector<uint64_t>{});
  }
}

TEST_F(FingerprintFile, EveryTruncationAndEveryFlippedByteIsRefused) {
  write_fingerprint(sample(), path("vm0.fp"));
  const std::vector<char> good = bytes_of(path("vm0.fp"));
  for (size_t cut = 0; cut < good.size(); cut += std::max<size_t>(1, good.size() / 97)) {
    put(path("cut.fp"), std::vector<char>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
    EXPECT_THROW((void)read_fingerprint(path("cut.fp"), true), FingerprintError) << cut;
  }
  for (size_t at = 0; at < good.size(); at += std::max<size_t>(1, good.size() / 211)) {
    std::vector<char> bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0x20);
    put(path("flip.fp"), bad);
    EXPECT_THROW((void)read_fingerprint(path("flip.fp"), true), FingerprintError) << at;
  }
}

TEST_F(FingerprintFile, ForeignFilesAndOtherVersionsAreRefusedByName) {
  put(path("foreign.fp"), std::vector<char>(64, 'x'));
  try {
    (void)read_fingerprint(path("foreign.fp"), false);
    FAIL();
  } catch (const FingerprintError& e) {
    EXPECT_NE(std::string(e.what()).find("not a densevm fingerprint"), std::string::npos) << e.what();
  }
  write_fingerprint(sample(), path("vm0.fp"));
  std::vector<char> v2 = bytes_of(path("vm0.fp"));
  v2[8] = 2;
  put(path("v2.fp"), v2);
  EXPECT_THROW((void)read_fingerprint(path("v2.fp"), false), FingerprintError);
  EXPECT_THROW((void)read_fingerprint(path("missing.fp"), false), FingerprintError);
}

TEST_F(FingerprintFile, APagesFrameTooShortForTheSizeItClaimsIsRefusedBeforeItsTableIsBuilt) {
  // 2^21 zero pages compress to a few KB and are read back; the same frame cut to its header
  // (a valid checksum over it) claims 16 MiB in a few bytes.
  const std::vector<uint64_t> zeros(uint64_t{1} << 21, kZero);
  write_fingerprint(fingerprint_of("zeros", ImageKind::kRaw, {{0, zeros.size()}}, zeros, 64), path("zeros.fp"));
  EXPECT_EQ(read_fingerprint(path("zeros.fp"), true).page_hashes, zeros);
  std::vector<char> file = bytes_of(path("zeros.fp"));
  // The pages section is the last: its 20-byte header, then a u64 size and the frame.
  size_t pages_at = 20;
  while (true) {
    uint64_t length = 0;
    std::memcpy(&length, file.data() + pages_at + 4, 8);
    if (pages_at + 20 + length == file.size()) break;
    pages_at += 20 + length;
  }
  std::vector<uint8_t> cut(file.begin() + static_cast<std::ptrdiff_t>(pages_at + 20), file.end());
  cut.resize(8 + 14);  // the size, and the frame's header (14 bytes at most without a dictionary)
  file.resize(pages_at + 20);
  const uint64_t length = cut.size(), sum = XXH3_64bits(cut.data(), cut.size());
  std::memcpy(file.data() + pages_at + 4, &length, 8);
  std::memcpy(file.data() + pages_at + 12, &sum, 8);
  file.insert(file.end(), cut.begin(), cut.end());
  put(path("claim.fp"), file);
  try {
    (void)read_fingerprint(path("claim.fp"), true);
    FAIL();
  } catch (const FingerprintError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot hold the 16777216 it claims"), std::string::npos) << e.what();
  }
}

TEST_F(FingerprintFile, AFailedWriteLeavesNothingUnderTheName) {
  Fingerprint fp = sample();
  fp.page_hashes.pop_back();  // inconsistent: refused before anything is written
  EXPECT_THROW(write_fingerprint(fp, path("bad.fp")), std::logic_error);
  EXPECT_FALSE(std::filesystem::exists(path("bad.fp")));
  EXPECT_THROW(write_fingerprint(sample(), path("no-such-dir/vm.fp")), std::runtime_error);
}

}  // namespace
}  // namespace densevm::planner
