#include "vmm/devices/io_apic.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace densevm {
namespace {

struct Recorder : IoApic::Sink {
  std::vector<std::pair<uint8_t, bool>> got;
  void accept_interrupt(uint8_t vector, bool level) override { got.emplace_back(vector, level); }
};

void program(IoApic& io, unsigned pin, uint64_t entry) {
  io.write(0x00, 4, 0x10 + 2 * pin);
  io.write(0x10, 4, static_cast<uint32_t>(entry));
  io.write(0x00, 4, 0x11 + 2 * pin);
  io.write(0x10, 4, static_cast<uint32_t>(entry >> 32));
}

constexpr uint64_t kLevel = 1u << 15, kMasked = 1u << 16, kRemoteIrr = 1u << 14;

TEST(IoApic, IdentifiesItself) {
  Recorder r;
  IoApic io(r);
  io.write(0x00, 4, 0x01);
  EXPECT_EQ(io.read(0x10, 4), 0x00170011u) << "24 pins, version 0x11";
  io.write(0x00, 4, 0x00);
  io.write(0x10, 4, 0x0f000000);
  EXPECT_EQ(io.read(0x10, 4), 0x0f000000u);
  EXPECT_EQ(io.read(0x00, 4), 0u) << "IOREGSEL reads back";
  EXPECT_EQ(io.entry(3), kMasked) << "entries reset masked";
  io.write(0x00, 4, 0x10);
  EXPECT_EQ(io.read(0x10, 2), 0u) << "only 32-bit accesses";
}

TEST(IoApic, EdgeEntriesDeliverOnRisingEdgesOnly) {
  Recorder r;
  IoApic io(r);
  io.set_line(4, true);  // masked: nothing
  program(io, 4, 0x31);
  EXPECT_TRUE(r.got.empty()) << "unmasking an edge entry with the line up is not an edge";
  io.set_line(4, false);
  io.set_line(4, true);
  io.set_line(4, true);
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0], std::make_pair(uint8_t{0x31}, false));
  program(io, 4, 0x31 | kMasked);
  io.set_line(4, false);
  io.set_line(4, true);
  EXPECT_EQ(r.got.size(), 1u) << "masked";
  EXPECT_EQ(io.delivered(), 1u);
}

TEST(IoApic, LevelEntriesWaitForTheEoiAndRepeatWhileTheLineIsUp) {
  Recorder r;
  IoApic io(r);
  program(io, 5, 0x41 | kLevel);
  io.set_line(5, true);
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.got[0], std::make_pair(uint8_t{0x41}, true));
  EXPECT_TRUE(io.entry(5) & kRemoteIrr);
  io.set_line(5, true);
  EXPECT_EQ(r.got.size(), 1u) << "Remote IRR holds it back";
  io.end_of_interrupt(0x99);
  EXPECT_EQ(r.got.size(), 1u) << "another vector's EOI";
  io.end_of_interrupt(0x41);
  EXPECT_EQ(r.got.size(), 2u) << "still asserted after the EOI: again";
  io.set_line(5, false);
  io.end_of_interrupt(0x41);
  EXPECT_FALSE(io.entry(5) & kRemoteIrr);
  EXPECT_EQ(r.got.size(), 2u);
  // Unmasking a level entry whose line is up delivers at once.
  program(io, 5, 0x41 | kLevel | kMasked);
  io.set_line(5, true);
  EXPECT_EQ(r.got.size(), 2u);
  program(io, 5, 0x41 | kLevel);
  EXPECT_EQ(r.got.size(), 3u);
}

TEST(IoApic, SwitchingToEdgeClearsRemoteIrr) {
  Recorder r;
  IoApic io(r);
  program(io, 9, 0x51 | kLevel);
  io.set_line(9, true);
  ASSERT_TRUE(io.entry(9) & kRemoteIrr);
  program(io, 9, 0x51);  // Linux's way to retire a lost EOI on version 0x11 parts
  EXPECT_FALSE(io.entry(9) & kRemoteIrr);
  io.write(0x00, 4, 0x10 + 2 * 9);
  io.write(0x10, 4, 0x51 | kRemoteIrr);
  EXPECT_FALSE(io.entry(9) & kRemoteIrr) << "Remote IRR is read-only";
}

TEST(IoApic, NonFixedDeliveryAndLowVectorsNeverReachTheApic) {
  Recorder r;
  IoApic io(r);
  program(io, 1, 0x31 | (4u << 8));  // NMI
  program(io, 2, 0x05);              // vector below 16
  io.set_line(1, true);
  io.set_line(2, true);
  io.set_line(30, true);  // no such pin
  EXPECT_TRUE(r.got.empty());
}

TEST(IoApic, SaveRestoreKeepsEntriesAndLines) {
  Recorder r;
  IoApic a(r);
  program(a, 5, 0x41 | kLevel);
  a.set_line(5, true);
  StateWriter w;
  write_record(w, a.save());
  Recorder r2;
  IoApic b(r2);
  StateReader rd(w.bytes());
  b.restore(read_record<IoApicState>(rd));
  rd.expect_end("ioapic");
  EXPECT_EQ(b.entry(5), a.entry(5));
  b.end_of_interrupt(0x41);
  ASSERT_EQ(r2.got.size(), 1u) << "the restored line is still up";
}

}  // namespace
}  // namespace densevm
