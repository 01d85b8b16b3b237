#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/io_apic.h"
#include "vmm/devices/local_apic.h"
#include "vmm/devices/uart16550.h"

namespace densevm {
namespace {

// A device's state through its file record and back, as a snapshot of `version` takes it.
template <Persistent Device>
auto through_record(const Device& d, size_t* record_bytes = nullptr, uint32_t version = kNewestLayout) {
  StateWriter w(version);
  write_record(w, d.save());
  if (record_bytes != nullptr) *record_bytes = w.bytes().size();
  StateReader r(w.bytes(), version);
  auto s = read_record<decltype(d.save())>(r);
  r.expect_end("record");
  return s;
}

TEST(DeviceState, UartRestoresItsPendingPartialLine) {
  std::vector<std::string> lines;
  Uart16550 a([&](std::string_view l) { lines.emplace_back(l); });
  for (char c : std::string("hel")) a.write(Uart16550::kCom1, static_cast<uint8_t>(c));
  a.write(Uart16550::kCom1 + 3, 0x83);  // LCR with DLAB
  size_t bytes = 0;
  const UartState state = through_record(a, &bytes);
  EXPECT_EQ(bytes, 6 + 8 + 8 + 3 + 3u) << "FORMAT.md: six registers, bytes written, the line, FCR, THRE, line";
  (void)through_record(a, &bytes, 2);
  EXPECT_EQ(bytes, 6 + 8 + 8 + 3u) << "version 2: no FCR or interrupt";

  Uart16550 b([&](std::string_view l) { lines.emplace_back(l); });
  b.restore(state);
  EXPECT_EQ(b.read(Uart16550::kCom1 + 3), 0x83);
  b.write(Uart16550::kCom1 + 3, 0x03);
  for (char c : std::string("lo\n")) b.write(Uart16550::kCom1, static_cast<uint8_t>(c));
  EXPECT_EQ(lines, std::vector<std::string>{"hello"});
  EXPECT_EQ(b.bytes_written(), 6u);
}

TEST(DeviceState, ApicTimerFiresAtTheSameVirtualTimeAfterRestore) {
  LocalApic a;
  a.write(0xf0, 0x1ff, 0);      // software enable
  a.write(0x3e0, 0xb, 0);       // divide by 1
  a.write(0x320, 0x20020, 0);   // periodic, vector 0x20
  a.write(0x380, 1000, 0);
  a.advance(2500);
  size_t bytes = 0;
  const ApicState state = through_record(a, &bytes);
  EXPECT_EQ(bytes, 10 * 4 + 2 * 32 + 1 + 8 + 8 + 4 + 32u) << "FORMAT.md: registers, ISR, IRR, timer, expiries, ICR high, TMR";
  (void)through_record(a, &bytes, 2);
  EXPECT_EQ(bytes, 10 * 4 + 2 * 32 + 1 + 8 + 8u) << "version 2: no ICR high, no TMR";
  LocalApic b;
  b.restore(state);
  EXPECT_EQ(b.next_deadline(), a.next_deadline());
  EXPECT_EQ(b.timer_expiries(), a.timer_expiries());
  EXPECT_EQ(b.has_pending_interrupt(), a.has_pending_interrupt());
  EXPECT_EQ(b.read(0x390, 2600), a.read(0x390, 2600));  // current count
  EXPECT_EQ(b.acknowledge_interrupt(), a.acknowledge_interrupt());
}

TEST(DeviceState, ShortRecordsThrowInsteadOfReadingPastTheEnd) {
  LocalApic a;
  StateWriter w;
  write_record(w, a.save());
  for (size_t n = 0; n < w.bytes().size(); ++n) {
    StateReader r(std::span(w.bytes()).first(n));
    EXPECT_THROW((void)read_record<ApicState>(r), StateError) << n;
  }
}

// A record older than a device's (version 2 has no IOAPIC or clock) leaves the State's
// defaults, which must be the device's reset state: a fresh device's save.
TEST(DeviceState, DefaultStatesAreTheResetStates) {
  struct NoSink final : IoApic::Sink {
    void accept_interrupt(uint8_t, bool) override {}
  } sink;
  const IoApic ioapic(sink);
  const IoApicState fresh_ioapic = ioapic.save(), default_ioapic{};
  EXPECT_EQ(fresh_ioapic.redirection, default_ioapic.redirection);
  EXPECT_EQ(fresh_ioapic.redirection[0] & (uint64_t{1} << 16), uint64_t{1} << 16) << "masked";
  EXPECT_EQ(fresh_ioapic.select, default_ioapic.select);
  EXPECT_EQ(fresh_ioapic.lines, default_ioapic.lines);
  const CmosRtc rtc;
  const RtcState fresh_rtc = rtc.save(), default_rtc{};
  EXPECT_EQ(fresh_rtc.epoch, default_rtc.epoch);
  EXPECT_EQ(fresh_rtc.ram, default_rtc.ram);
  EXPECT_EQ(fresh_rtc.offset, default_rtc.offset);
}

}  // namespace
}  // namespace densevm
