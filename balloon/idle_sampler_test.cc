#include "balloon/idle_sampler.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

constexpr uint64_t kRamBytes = uint64_t{16} << 20;

void touch(GuestMemory& mem, bool every_page) {
  for (uint64_t p = 0; p < (kRamBytes >> kPageShift); p += every_page ? 1 : 2) {
    (void)mem.lookup(Gpa::from_page(p), Access::kRead);  // sets the EPT A bit, as a guest access would
  }
}

// Arming a sample clears accessed bits in guest memory, so the sampler's state is partly
// there: a restore puts those bits back, and the next estimate is the one it would have been.
TEST(IdleSampler, ARestoreGivesTheSampleItsAccessedBitsBack) {
  FrameStore frames(uint64_t{1} << 30);
  GuestMemory mem(frames, kRamBytes);
  for (uint64_t p = 0; p < (kRamBytes >> kPageShift); ++p) ASSERT_EQ(mem.populate(Gpa::from_page(p)), GuestMemory::Populate::kMapped);
  IdleSampler sampler(/*seed=*/1);
  sampler.step(mem);  // arms a sample
  touch(mem, /*every_page=*/false);
  const IdleSamplerState saved = sampler.save(mem);
  sampler.step(mem);
  const uint64_t estimate = sampler.active_pages();
  EXPECT_GT(estimate, 0u);
  EXPECT_LT(estimate, (kRamBytes >> kPageShift) * 3 / 4) << "half the pages were accessed";

  touch(mem, /*every_page=*/true);  // what the guest did after the checkpoint
  sampler.restore(saved, mem);
  sampler.step(mem);
  EXPECT_EQ(sampler.active_pages(), estimate);
}

}  // namespace
}  // namespace densevm
