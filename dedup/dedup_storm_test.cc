// The scanner merging while guests keep writing: contents and counters under churn.
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <vector>

#include "dedup/dedup_scanner.h"
#include "dedup/internal/test_pages.h"

namespace densevm {
namespace {

using namespace dedup_testing;

// Three guests keep rewriting 64 pages with few distinct contents while the scanner merges
// them a few pages at a time; after every step each guest must read back what it wrote.
TEST(DedupScannerStorm, NoGuestReadsAWrongByteAndTheSameInputsGiveTheSameMerges) {
  auto run = [](std::vector<uint64_t>* layout) {
    constexpr uint64_t kPages = 64;
    FrameStore frames(uint64_t{1} << 28);
    std::vector<std::unique_ptr<GuestMemory>> mems;
    std::vector<std::array<uint64_t, kPages>> model(3);  // content seed per page; 0 = zeros
    DedupScanner dedup(frames);
    for (uint32_t k = 0; k < 3; ++k) {
      mems.push_back(std::make_unique<GuestMemory>(frames, 4 * kMiB));
      dedup.add(*mems.back(), 0);
      for (uint64_t i = 0; i < kPages; ++i) fill_zero(*mems.back(), Gpa{i * kPageSize});
      model[k].fill(0);
    }
    uint64_t x = 12345;
    auto next = [&] { return x ^= x << 13, x ^= x >> 7, x ^= x << 17; };
    for (int round = 0; round < 60; ++round) {
      for (int w = 0; w < 20; ++w) {
        const uint64_t k = next() % 3, i = next() % kPages, content = next() % 5;
        if (content == 0) {
          fill_zero(*mems[k], Gpa{i * kPageSize});
        } else {
          guest_write(*mems[k], Gpa{i * kPageSize}, content);
        }
        model[k][i] = content;
      }
      dedup.step(40);
      expect_counters_add_up(dedup.stats());
      for (uint64_t k = 0; k < 3; ++k) {
        for (uint64_t i = 0; i < kPages; ++i) {
          std::array<uint8_t, kPageSize> got{};
          EXPECT_TRUE(mems[k]->read(Gpa{i * kPageSize}, got.data(), got.size()));
          const bool right = model[k][i] == 0 ? got == std::array<uint8_t, kPageSize>{}
                                              : got == pattern(model[k][i]);
          if (!right) ADD_FAILURE() << "vm" << k << " page " << i << " round " << round;
        }
      }
    }
    for (auto& m : mems) {
      m->for_each_mapping([&](Gpa gpa, Hpa hpa, EptPerms) {
        layout->push_back(gpa.value() | (frames.refcount(hpa) > 1 ? 1 : 0));
      });
    }
    return dedup.stats();
  };
  std::vector<uint64_t> first, second;
  const DedupStats s1 = run(&first);
  const DedupStats s2 = run(&second);
  EXPECT_GT(s1.merges, 50u);
  EXPECT_GT(s1.cow_breaks, 20u);
  EXPECT_GT(s1.full_passes, 10u);
  EXPECT_EQ(s1.merges, s2.merges);
  EXPECT_EQ(s1.cow_breaks, s2.cow_breaks);
  EXPECT_EQ(first, second) << "same inputs, same pages shared";
}

}  // namespace
}  // namespace densevm
