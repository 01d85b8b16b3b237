#include "vmm/cpu/jit/block_cache.h"

#include <gtest/gtest.h>

namespace densevm::cpu::jit {
namespace {

// Lookups through the recent table (fresh zero memory: an all-zero slot is empty, gpa 0
// included) find what was made, and forget what was invalidated or cleared.
TEST(BlockCache, FindsWhatWasMadeAndForgetsWhatWasInvalidatedOrCleared) {
  BlockCache cache;
  EXPECT_EQ(cache.find(0), nullptr) << "an empty slot is no entry for gpa 0";
  EXPECT_EQ(cache.find(0x1234), nullptr);
  BlockCache::Entry& zero = cache.entry(0);
  zero.heat = 3;
  BlockCache::Entry& e = cache.entry(0x1234);
  e.block = cache.new_block(0x1234);
  EXPECT_EQ(cache.find(0x1234), &e);
  EXPECT_EQ(&cache.entry(0x1234), &e);
  EXPECT_EQ(cache.find(0)->heat, 3u);
  const uint64_t same_slot = 0x1234 + 4096 * 4096;  // another page whose head shares e's slot
  EXPECT_EQ(cache.find(same_slot), nullptr);
  EXPECT_EQ(cache.find(0x1234), &e);

  Block* b = e.block;
  EXPECT_EQ(cache.invalidate_page(0x1), 1u);
  EXPECT_FALSE(b->live);
  EXPECT_EQ(cache.find(0x1234), nullptr);
  EXPECT_NE(cache.find(0), nullptr) << "page 0 was not invalidated";

  cache.clear();
  EXPECT_EQ(cache.find(0), nullptr);
  EXPECT_EQ(cache.entry(0).heat, 0u) << "made anew";
}

}  // namespace
}  // namespace densevm::cpu::jit
