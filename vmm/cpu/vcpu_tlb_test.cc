// The soft TLB's invalid entry is all-zero bytes (a tag is the page's last byte address, never
// 0), so a Vcpu's TLB starts in fresh zeroed memory: an untouched or flushed entry must never
// hit, not even for guest page 0, whose page address is 0 (and whose host addend would be 0).
#include <gtest/gtest.h>

#include <array>
#include <cstring>

#include "tests/support/null_bus.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {
namespace {

// Every guest page is one host page filled with its own byte pattern; counts translations.
struct OnePageMmu final : Mmu {
  OnePageMmu() {
    for (size_t i = 0; i < page.size(); i += 8) {
      const uint64_t v = 0x1122334455667788 + i;
      std::memcpy(page.data() + i, &v, 8);
    }
  }
  Translation translate(Gva va, Access, const PagingContext&) override {
    ++translations;
    Translation t;
    t.kind = Translation::Kind::kRam;
    t.writable = t.user = t.executable = true;
    t.host_page = page.data();
    t.gpa = Gpa{va.value() & ~kPageMask};
    return t;
  }
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  const char* mode_name() const override { return "one page"; }
  alignas(4096) std::array<uint8_t, 4096> page{};
  int translations = 0;
};

class VcpuTlb : public ::testing::Test {
 protected:
  OnePageMmu mmu_;
  densevm::testing::NullBus bus_;
  PageTracking tracking_{16};
  Vcpu v_{mmu_, bus_, tracking_};
};

TEST_F(VcpuTlb, AFreshEntryNeverHitsForGuestPageZero) {
  uint64_t out = 0;
  ASSERT_TRUE(v_.write<8>(0x10, 0xabcdef));  // a write entry for page 0: none yet
  EXPECT_EQ(mmu_.translations, 1);
  ASSERT_TRUE(v_.read<8>(0x10, out));  // the write walk filled the read tag too
  EXPECT_EQ(out, 0xabcdefu);
  EXPECT_EQ(mmu_.translations, 1);
  ASSERT_TRUE(v_.read<8>(0x1000 * 1024, out)) << "page 1024: the same slot, another tag";
  EXPECT_EQ(mmu_.translations, 2);
  EXPECT_EQ(v_.counters().tlb_misses, 2u);
}

TEST_F(VcpuTlb, AFreshReadOfPageZeroWalks) {
  uint64_t out = 0;
  ASSERT_TRUE(v_.read<8>(0, out));
  EXPECT_EQ(out, 0x1122334455667788u) << "read through the MMU's page, not host address 0";
  EXPECT_EQ(mmu_.translations, 1);
  ASSERT_TRUE(v_.read<4>(8, out));
  EXPECT_EQ(mmu_.translations, 1) << "now a hit";
}

TEST_F(VcpuTlb, AFlushedEntryNeverHitsAgain) {
  uint64_t out = 0;
  // Entries in several host pages of the TLB: slots 0, 200 and 1000 (page 0, 1 and 7 of the
  // supervisor view's 32-byte entries).
  for (const uint64_t va : {uint64_t{0}, uint64_t{200} << 12, uint64_t{1000} << 12}) ASSERT_TRUE(v_.read<8>(va, out));
  EXPECT_EQ(mmu_.translations, 3);
  for (const uint64_t va : {uint64_t{0}, uint64_t{200} << 12, uint64_t{1000} << 12}) ASSERT_TRUE(v_.read<8>(va, out));
  EXPECT_EQ(mmu_.translations, 3) << "hits";
  v_.flush_tlb();
  for (const uint64_t va : {uint64_t{0}, uint64_t{200} << 12, uint64_t{1000} << 12}) ASSERT_TRUE(v_.read<8>(va, out));
  EXPECT_EQ(mmu_.translations, 6) << "every flushed entry walks again";
  v_.flush_tlb_gpa(Gpa{0}, Gpa{0x1000});
  ASSERT_TRUE(v_.read<8>(0, out));
  ASSERT_TRUE(v_.read<8>(uint64_t{200} << 12, out));
  EXPECT_EQ(mmu_.translations, 7) << "only page 0's entry was dropped";
}

}  // namespace
}  // namespace densevm::cpu
