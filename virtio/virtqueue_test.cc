#include "virtio/virtqueue.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};

class VirtqueueTest : public ::testing::Test {
 protected:
  VirtqueueTest() : frames_(uint64_t{16} << 20), memory_(frames_, uint64_t{4} << 20), q_(memory_) {}

  void SetUp() override {
    ASSERT_EQ(q_.configure({8, Gpa{0x1000}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kNone);
  }
  void desc(uint16_t i, Desc d) { ASSERT_TRUE(memory_.write(Gpa{0x1000 + 16ull * i}, &d, 16)); }
  void offer(uint16_t slot, uint16_t head, uint16_t idx) {
    ASSERT_TRUE(memory_.write(Gpa{0x2004 + 2ull * slot}, &head, 2));
    ASSERT_TRUE(memory_.write(Gpa{0x2002}, &idx, 2));
  }

  FrameStore frames_;
  GuestMemory memory_;
  Virtqueue q_;
};

TEST_F(VirtqueueTest, PopsAChainAndPushesUsed) {
  desc(3, {0x8000, 100, 1, 5});
  desc(5, {0x9000, 200, 2, 0});
  offer(0, 3, 1);
  std::optional<Chain> c;
  ASSERT_EQ(q_.pop(c), QueueError::kNone);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->head, 3);
  ASSERT_EQ(c->segments.size(), 2u);
  EXPECT_FALSE(c->segments[0].device_writable);
  EXPECT_TRUE(c->segments[1].device_writable);
  ASSERT_EQ(q_.pop(c), QueueError::kNone);
  EXPECT_FALSE(c) << "nothing more offered";
  ASSERT_EQ(q_.push_used(3, 200), QueueError::kNone);
  uint32_t elem[2];
  uint16_t idx;
  ASSERT_TRUE(memory_.read(Gpa{0x3004}, elem, 8));
  ASSERT_TRUE(memory_.read(Gpa{0x3002}, &idx, 2));
  EXPECT_EQ(elem[0], 3u);
  EXPECT_EQ(elem[1], 200u);
  EXPECT_EQ(idx, 1);
}

TEST_F(VirtqueueTest, ReadableAfterWritableIsRefused) {
  desc(0, {0x8000, 100, 3, 1});
  desc(1, {0x9000, 100, 0, 0});
  offer(0, 0, 1);
  std::optional<Chain> c;
  EXPECT_EQ(q_.pop(c), QueueError::kBadOrder);
}

TEST_F(VirtqueueTest, ZeroLengthAndWrappingAddressesAreRefused) {
  desc(0, {0x8000, 0, 0, 0});
  offer(0, 0, 1);
  std::optional<Chain> c;
  EXPECT_EQ(q_.pop(c), QueueError::kBadBuffer);
  Virtqueue q2(memory_);
  ASSERT_EQ(q2.configure({8, Gpa{0x1000}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kNone);
  desc(0, {~uint64_t{0} - 10, 100, 0, 0});
  EXPECT_EQ(q2.pop(c), QueueError::kBadBuffer);
}

TEST(VirtqueueLayout, MisalignedOrOversizedRingsAreRefused) {
  FrameStore frames(uint64_t{16} << 20);
  GuestMemory memory(frames, uint64_t{1} << 20);
  Virtqueue q(memory);
  EXPECT_EQ(q.configure({8, Gpa{0x1008}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kBadRingAddress);
  EXPECT_EQ(q.configure({8, Gpa{0x1000}, Gpa{0x2000}, Gpa{0x3002}}), QueueError::kBadRingAddress);
  EXPECT_EQ(q.configure({0, Gpa{0x1000}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kBadIndex);
  EXPECT_EQ(q.configure({512, Gpa{0x1000}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kBadIndex);
  EXPECT_EQ(q.configure({8, Gpa{0xffff0}, Gpa{0x2000}, Gpa{0x3000}}), QueueError::kBadRingAddress);
  EXPECT_FALSE(q.ready());
}

}  // namespace
}  // namespace densevm
