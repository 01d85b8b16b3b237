#include "core/persist.h"

#include <gtest/gtest.h>

namespace densevm {
namespace {

TEST(Persist, RoundTripsEveryFieldType) {
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

TEST(Persist, IsLittleEndianOnDisk) {
  StateWriter w;
  w.u32(0x04030201);
  EXPECT_EQ(w.bytes(), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(Persist, EveryTruncationThrowsInsteadOfReadingPastTheEnd) {
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

TEST(Persist, RejectsOversizedLengthsBadBooleansAndTrailingBytes) {
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

struct Inner {
  uint16_t a = 0;
  std::optional<uint64_t> b;
  static void fields(auto& s, auto& io) { io(s.a, s.b); }
};

enum class Colour : uint8_t { kRed = 1, kBlue = 2 };

struct Record {
  static constexpr uint32_t kVersion = 3;
  static constexpr uint32_t kOldestVersion = 2;
  bool flag = false;
  Colour colour = Colour::kRed;
  int64_t delta = 0;
  uint32_t regs[3] = {};
  std::array<uint8_t, 4> blob{};
  std::string name;
  std::vector<uint64_t> words;
  std::vector<Inner> inners;
  std::vector<std::string> names;  // since version 3
  uint16_t later = 0x5555;         // since version 3; its default is its reset value
  static void fields(auto& s, auto& io) {
    io(s.flag, s.colour, s.delta, s.regs);
    io.blob(s.blob);
    io.str(s.name, 16);
    io.words(s.words, 8);
    io.template list<uint32_t>(s.inners, 4);
    if (io.since(3)) {
      io.template strings<uint8_t>(s.names, 2, 8);
      io(s.later);
    }
  }
};

Record filled() {
  Record r;
  r.flag = true;
  r.colour = Colour::kBlue;
  r.delta = -7;
  r.regs[2] = 0x01020304;
  r.blob = {9, 8, 7, 6};
  r.name = "vcpu";
  r.words = {1, 2, 3};
  r.inners = {{5, std::nullopt}, {6, 77}};
  r.names = {"fld", "movaps"};
  r.later = 0x1234;
  return r;
}

constexpr size_t kVersion2Bytes = 1 + 1 + 8 + 12 + (8 + 4) + (8 + 4) + (8 + 24) + 4 + 2 * (2 + 1 + 8);

// One field list writes a record and reads it back, field by field, little-endian.
TEST(Persist, AFieldListWritesAndReadsTheSameRecord) {
  const Record r = filled();
  StateWriter w;
  write_record(w, r);
  EXPECT_EQ(w.bytes().size(), kVersion2Bytes + 1 + (8 + 3) + (8 + 6) + 2);
  StateReader in(w.bytes(), Record::kVersion);
  const Record back = read_record<Record>(in);
  in.expect_end("record");
  EXPECT_TRUE(back.flag);
  EXPECT_EQ(back.colour, Colour::kBlue);
  EXPECT_EQ(back.delta, -7);
  EXPECT_EQ(back.regs[2], 0x01020304u);
  EXPECT_EQ(back.blob, r.blob);
  EXPECT_EQ(back.name, "vcpu");
  EXPECT_EQ(back.words, r.words);
  ASSERT_EQ(back.inners.size(), 2u);
  EXPECT_FALSE(back.inners[0].b.has_value());
  EXPECT_EQ(back.inners[1].b, 77u);
  EXPECT_EQ(back.names, r.names);
  EXPECT_EQ(back.later, 0x1234);

  for (const uint32_t version : {1u, 4u}) {
    StateReader other(w.bytes(), version);
    EXPECT_THROW((void)read_record<Record>(other), StateError) << "version " << version << " is not read";
    StateWriter wrong(version);
    EXPECT_THROW(write_record(wrong, r), StateError) << "nor written";
  }
}

// An older version's layout has only the fields it had: a writer of that version leaves out
// what came later, and a reader of it gives those fields their defaults.
TEST(Persist, OlderVersionsWriteAndReadTheirOwnLayout) {
  StateWriter w(2);
  write_record(w, filled());
  EXPECT_EQ(w.bytes().size(), kVersion2Bytes);
  StateReader in(w.bytes(), 2);
  const Record back = read_record<Record>(in);
  in.expect_end("record");
  EXPECT_EQ(back.name, "vcpu");
  EXPECT_TRUE(back.names.empty());
  EXPECT_EQ(back.later, 0x5555);

  StateReader as_newest(w.bytes());
  EXPECT_THROW((void)read_record<Record>(as_newest), StateError) << "a version-2 record read as version 3 ends early";
}

TEST(Persist, BoundsAreCheckedAsTheRecordIsRead) {
  Record r;
  r.words.assign(9, 1);  // one more than the field list allows
  StateWriter w;
  write_record(w, r);
  StateReader in(w.bytes());
  EXPECT_THROW((void)read_record<Record>(in), StateError);

  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"a", "b", "c"}, std::vector<std::string>{"ninechars"}}) {
    Record n;
    n.names = names;  // three names, or a name longer than 8
    StateWriter wn;
    write_record(wn, n);
    StateReader rn(wn.bytes());
    EXPECT_THROW((void)read_record<Record>(rn), StateError) << names.size();
  }
}

}  // namespace
}  // namespace densevm