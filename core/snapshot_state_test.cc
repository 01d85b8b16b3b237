#include "core/snapshot_state.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

TEST(SnapshotState, RoundTripsEveryFieldType) {
  StateWriter w;
  w.u8(7);
  w.boolean(true);
  w.u16(0xbeef);
  w.u32(0xdeadbeef);
  w.u64(0x0123456789abcdefULL);
  w.i64(-5);
  w.str("hello");
  StateReader r(w.bytes());
  EXPECT_EQ(r.u8(), 7);
  EXPECT_TRUE(r.boolean());
  EXPECT_EQ(r.u16(), 0xbeef);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u64(), 0x0123456789abcdefULL);
  EXPECT_EQ(r.i64(), -5);
  EXPECT_EQ(r.str(16), "hello");
  EXPECT_NO_THROW(r.expect_end("test"));
}

TEST(SnapshotState, IsLittleEndianOnDisk) {
  StateWriter w;
  w.u32(0x04030201);
  EXPECT_EQ(w.bytes(), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(SnapshotState, EveryTruncationThrowsInsteadOfReadingPastTheEnd) {
  StateWriter w;
  w.u64(1);
  w.str("abcdef");
  for (size_t n = 0; n < w.bytes().size(); ++n) {
    StateReader r(std::span(w.bytes()).first(n));
    EXPECT_THROW(
        {
          (void)r.u64();
          (void)r.str(64);
        },
        StateError)
        << n;
  }
}

TEST(SnapshotState, RejectsOversizedLengthsBadBooleansAndTrailingBytes) {
  StateWriter w;
  w.u64(~uint64_t{0});
  StateReader huge(w.bytes());
  EXPECT_THROW((void)huge.blob(1024), StateError);

  const std::vector<uint8_t> two{2};
  StateReader bad_bool(two);
  EXPECT_THROW((void)bad_bool.boolean(), StateError);

  StateReader trailing(two);
  EXPECT_THROW(trailing.expect_end("x"), StateError);
}

}  // namespace
}  // namespace densevm
