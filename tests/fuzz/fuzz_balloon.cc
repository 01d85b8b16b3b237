// Fuzz target (LLVMFuzzerTestOneInput): what a hostile guest driver puts in the virtqueues of
// the balloon device (balloon/, through the virtio-mmio transport and Virtqueue of virtio/),
// over a real GuestMemory of 16 MiB.
//
// Input: byte 0 picks the features the driver accepts (bit 0 STATS_VQ, bit 1 REPORTING) and
// byte 1 the queue size (1..256); the transport is brought up with every queue's rings at a
// fixed place (§3.1.1). Then operations of 12 bytes, each an opcode and its operands:
// write a descriptor (address in the buffer area, in a ring, outside RAM or in device
// space, or raw; any length, flags — NEXT, WRITE, INDIRECT — and next: chains, loops),
// offer a head, set avail.idx to anything, notify a queue, fill buffer bytes (PFN arrays,
// statistics), write any transport register (a reset, a queue moved, status), the host's
// target and statistics request, a guest write to a page, or a save and restore of the
// device and transport through their snapshot records.
//
// Findings abort: a crash, hang or sanitizer report; the balloon's accounting broken
// (ballooned != inflated - deflated, or pages counted in the balloon that its bitmap does
// not hold); a save/restore of a state the device itself saved refused.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "balloon/balloon_device.h"
#include "core/frame_store.h"
#include "mmu/guest_memory.h"
#include "tests/fuzz/fuzz_stats.h"
#include "virtio/virtio_mmio.h"

namespace {

using namespace densevm;
using densevm::testing::fuzz_stats;

constexpr uint64_t kRam = uint64_t{16} << 20;
constexpr uint64_t kRings = 0x100000;    // queue q: desc +q*0x4000, avail +0x1000, used +0x2000
constexpr uint64_t kBuffers = 0x200000;  // PFN arrays, statistics, indirect tables
constexpr size_t kOpBytes = 12;
constexpr unsigned kQueues = 4;
// Addresses no buffer may use: device space, the end of RAM (straddled), far beyond it.
constexpr uint64_t kOutside[] = {0xd000'0000, 0xfee0'0000, kRam - 2, kRam, uint64_t{1} << 40,
                                 ~uint64_t{0} - 7};

uint64_t ring(unsigned q) { return kRings + q * 0x4000ull; }

void fail(const char* what) {
  std::fprintf(stderr, "fuzz_balloon: %s\n", what);
  std::abort();
}

class Driver {
 public:
  Driver() : frames_(uint64_t{64} << 20), memory_(frames_, kRam), balloon_(memory_), mmio_(memory_, balloon_) {}

  void bring_up(uint8_t feature_bits, uint16_t size) {
    uint64_t features = kVirtioFVersion1 | BalloonDevice::kFDeflateOnOom;
    if (feature_bits & 1) features |= BalloonDevice::kFStatsVq;
    if (feature_bits & 2) features |= BalloonDevice::kFReporting;
    reg(0x70, 0);
    reg(0x70, 3);
    reg(0x24, 0);
    reg(0x20, static_cast<uint32_t>(features));
    reg(0x24, 1);
    reg(0x20, static_cast<uint32_t>(features >> 32));
    reg(0x70, 11);
    for (unsigned q = 0; q < kQueues; ++q) {
      reg(0x30, q);
      reg(0x38, size);
      reg(0x80, static_cast<uint32_t>(ring(q)));
      reg(0x90, static_cast<uint32_t>(ring(q) + 0x1000));
      reg(0xa0, static_cast<uint32_t>(ring(q) + 0x2000));
      reg(0x44, 1);
    }
    reg(0x70, 15);
    size_ = size;
  }

  void run(const uint8_t* op) {
    const unsigned q = op[1] % kQueues;
    uint64_t v = 0;
    std::memcpy(&v, op + 4, 8);
    switch (op[0] % 10) {
      case 0: {  // descriptor op[2] of queue q
        struct {
          uint64_t addr;
          uint32_t len;
          uint16_t flags, next;
        } d{};
        switch (op[3] % 4) {
          case 0: d.addr = kBuffers + (v & 0xffff); break;
          case 1: d.addr = kRings + (v & 0xffff); break;
          case 2: d.addr = kOutside[(v & 0xffff) % std::size(kOutside)]; break;
          default: d.addr = v; break;
        }
        d.len = static_cast<uint32_t>(v >> 16) & 0x3ffff;
        if (op[3] & 4) d.len = static_cast<uint32_t>(v >> 32);
        d.flags = static_cast<uint16_t>(op[3] >> 5);  // NEXT 1, WRITE 2, INDIRECT 4
        d.next = static_cast<uint16_t>(v >> 48);
        if (!(op[3] & 8)) d.next = static_cast<uint16_t>(d.next % (size_ ? size_ : 1));
        write(ring(q) + 16ull * op[2], &d, sizeof d);
        break;
      }
      case 1: {  // offer head v on queue q
        uint16_t idx = 0;
        (void)memory_.read(Gpa{ring(q) + 0x1000 + 2}, &idx, 2);
        const auto head = static_cast<uint16_t>(v);
        write(ring(q) + 0x1000 + 4 + 2ull * (idx % (size_ ? size_ : 1)), &head, 2);
        ++idx;
        write(ring(q) + 0x1000 + 2, &idx, 2);
        break;
      }
      case 2: {  // avail.idx set to anything
        const auto idx = static_cast<uint16_t>(v);
        write(ring(q) + 0x1000 + 2, &idx, 2);
        break;
      }
      case 3: {
        const uint64_t failures = mmio_.failures();
        reg(0x50, op[1]);  // notify (any index, queues that do not exist too)
        if (mmio_.failures() == failures) {
          ++fuzz_stats().accepted;
        } else {
          ++fuzz_stats().refused;
        }
        break;
      }
      case 4:  // 8 bytes of a buffer: PFNs, statistics tags and values, indirect descriptors
        write(kBuffers + ((uint64_t{op[2]} << 8 | op[3]) & 0xfff8), &v, 8);
        break;
      case 5:  // any transport register, config space included
        mmio_.write(uint64_t{op[2]} * 4 % 0x200, 4, static_cast<uint32_t>(v));
        (void)mmio_.read(uint64_t{op[3]} * 4 % 0x200, 4);
        break;
      case 6:
        balloon_.set_target_pages(v % (kRam / 4096 * 2));
        if (op[2] & 1) balloon_.request_stats();
        break;
      case 7: {  // the guest writes a page: a frame the balloon may take
        const uint8_t byte = op[2];
        write((v % (kRam / 4096)) * 4096, &byte, 1);
        break;
      }
      case 8:
        save_and_restore();
        break;
      default:  // the queue is ring-reset by its driver: fresh rings
        write_zeros(ring(q), 0x4000);
        break;
    }
    // The bitmap is scanned after what reaches the device (a notify, a register, a restore,
    // a guest write); rings, buffers and the target written alone change none of it.
    check(/*scan_bitmap=*/op[0] % 10 == 3 || op[0] % 10 == 5 || op[0] % 10 == 7 || op[0] % 10 == 8);
  }

 private:
  void reg(uint64_t offset, uint32_t value) { mmio_.write(offset, 4, value); }
  void write(uint64_t gpa, const void* bytes, size_t n) { (void)memory_.write(Gpa{gpa}, bytes, n); }
  void write_zeros(uint64_t gpa, size_t n) {
    static const std::array<uint8_t, 0x4000> kZeros{};
    write(gpa, kZeros.data(), n);
  }

  // The records a checkpoint writes, read back: a state the device saved is always restorable.
  void save_and_restore() {
    StateWriter w;
    write_record(w, balloon_.save());
    write_record(w, mmio_.save());
    StateReader r(w.bytes());
    try {
      const BalloonState b = read_record<BalloonState>(r);
      const VirtioMmioState m = read_record<VirtioMmioState>(r);
      r.expect_end("fuzz");
      balloon_.restore(b);
      mmio_.restore(m);
    } catch (const StateError& e) {
      std::fprintf(stderr, "fuzz_balloon: its own state refused: %s\n", e.what());
      std::abort();
    }
  }

  void check(bool scan_bitmap) const {
    const BalloonStats s = balloon_.stats();
    if (s.ballooned_pages != s.inflated_total - s.deflated_total) fail("ballooned != inflated - deflated");
    if (!scan_bitmap) return;
    uint64_t held = 0;
    for (uint64_t gpa = 0; gpa < kRam; gpa += 4096) held += balloon_.in_balloon(Gpa{gpa});
    if (held != s.ballooned_pages) fail("the balloon's count is not its bitmap's");
  }

  FrameStore frames_;
  GuestMemory memory_;
  BalloonDevice balloon_;
  VirtioMmio mmio_;
  uint16_t size_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  densevm::testing::note_execution();
  if (size < 2) return 0;
  Driver driver;
  driver.bring_up(data[0], static_cast<uint16_t>(data[1] == 0 ? 256 : data[1]));
  for (size_t at = 2; at + kOpBytes <= size; at += kOpBytes) driver.run(data + at);
  return 0;
}
