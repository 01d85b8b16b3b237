#include "vmm/cpu/decode_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace densevm::cpu {
namespace {

DecodedInsn insn_for(unsigned offset) {
  DecodedInsn d;
  d.imm = offset;
  d.len = static_cast<uint8_t>(offset % 15 + 1);
  return d;
}

TEST(DecodeCache, EveryOffsetKeepsItsOwnRecordAtAStableAddress) {
  DecodeCache cache;
  DecodedPage* page = cache.get(7);
  std::vector<const DecodedInsn*> records;
  // Every byte offset of the page, in an order that fills lines out of order.
  for (unsigned i = 0; i < DecodedPage::kPageBytes; ++i) {
    const unsigned offset = (i * 2053) % DecodedPage::kPageBytes;
    EXPECT_EQ(page->slot(offset), nullptr);
    records.push_back(page->insert(offset, insn_for(offset)));
  }
  for (unsigned i = 0; i < DecodedPage::kPageBytes; ++i) {
    const unsigned offset = (i * 2053) % DecodedPage::kPageBytes;
    ASSERT_EQ(page->slot(offset), records[i]) << offset;
    EXPECT_EQ(records[i]->imm, offset);
    EXPECT_EQ(records[i]->len, offset % 15 + 1);
  }
}

TEST(DecodeCache, AnInsertAtADecodedOffsetReplacesItsRecordInPlace) {
  DecodeCache cache;
  DecodedPage* page = cache.get(1);
  const DecodedInsn* first = page->insert(100, insn_for(100));
  const uint64_t bytes = cache.bytes();
  const DecodedInsn* again = page->insert(100, insn_for(5));
  EXPECT_EQ(again, first);
  EXPECT_EQ(page->slot(100)->imm, 5u);
  EXPECT_EQ(cache.bytes(), bytes);
}

TEST(DecodeCache, APageHoldsWhatWasDecodedNotATablePerByte) {
  DecodeCache cache;
  const uint64_t empty = cache.bytes();
  DecodedPage* page = cache.get(3);
  for (unsigned offset = 0; offset < 40; offset += 4) page->insert(offset, insn_for(offset));
  // One line's table, one chunk of 32 records, the page itself and its map node: well under
  // the 32 KiB a pointer per byte offset took.
  EXPECT_LT(cache.bytes() - empty, 4096u);
  // Another line costs its table of record numbers, 128 bytes.
  const uint64_t one_line = page->bytes();
  page->insert(640, insn_for(640));
  EXPECT_EQ(page->bytes() - one_line, 64 * sizeof(uint16_t));
}

TEST(DecodeCache, AStalePageIsEmptiedWhenEnteredAndKeepsItsMemory) {
  DecodeCache cache;
  DecodedPage* page = cache.get(9);
  page->insert(10, insn_for(10));
  page->insert(2000, insn_for(2000));
  const uint64_t bytes = cache.bytes();
  EXPECT_TRUE(cache.invalidate(9));
  EXPECT_FALSE(cache.invalidate(10));
  EXPECT_TRUE(page->stale());
  EXPECT_NE(page->slot(10), nullptr);  // alive until the run loop enters the page again
  EXPECT_EQ(cache.get(9), page);
  EXPECT_FALSE(page->stale());
  EXPECT_EQ(page->slot(10), nullptr);
  EXPECT_EQ(page->slot(2000), nullptr);
  EXPECT_EQ(cache.bytes(), bytes);
  EXPECT_EQ(page->insert(2000, insn_for(1))->imm, 1u);
}

TEST(DecodeCache, PassingTheBoundDropsEveryPageWhenTheNextPageIsEntered) {
  constexpr uint64_t kBound = 1 << 20;
  DecodeCache cache(kBound);
  uint64_t gpa_page = 0;
  // Whole pages of one-byte instructions (~175 KiB each) until the bound is passed.
  while (cache.bytes() <= kBound) {
    DecodedPage* page = cache.get(gpa_page++);
    for (unsigned offset = 0; offset < DecodedPage::kPageBytes; ++offset) page->insert(offset, insn_for(offset));
  }
  EXPECT_EQ(cache.flushes(), 0u);
  EXPECT_EQ(cache.pages(), gpa_page);
  EXPECT_GT(gpa_page, 2u);
  // Entering the page last filled is not a flush point ...
  EXPECT_NE(cache.get(gpa_page - 1)->slot(5), nullptr);
  EXPECT_EQ(cache.flushes(), 0u);
  // ... entering another page is: everything goes, the new page starts empty.
  DecodedPage* fresh = cache.get(0);
  EXPECT_EQ(cache.flushes(), 1u);
  EXPECT_EQ(cache.pages(), 1u);
  EXPECT_EQ(fresh->slot(5), nullptr);
  EXPECT_LT(cache.bytes(), 4096u);
}

TEST(DecodeCache, ClearGivesBackEveryByte) {
  DecodeCache cache;
  const uint64_t empty = cache.bytes();
  for (uint64_t p = 0; p < 4; ++p) cache.get(p)->insert(static_cast<unsigned>(p), insn_for(0));
  EXPECT_GT(cache.bytes(), empty);
  cache.clear();
  EXPECT_EQ(cache.pages(), 0u);
  EXPECT_EQ(cache.flushes(), 0u);
  EXPECT_LE(cache.bytes(), empty + 64 * sizeof(void*));  // the map may keep its buckets
}

}  // namespace
}  // namespace densevm::cpu
