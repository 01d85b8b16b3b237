#include "vmm/vm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/tiny_elf.h"
#include "vmm/scheduler.h"

namespace densevm {
namespace {

using testing::tiny_elf;

struct Captured {
  std::vector<std::string> lines;
  Vm::ConsoleSink sink() {
    return [this](int, std::string_view l) { lines.emplace_back(l); };
  }
};

// mov dx,0x3f8; mov al,'A'; out dx,al; mov al,'\n'; out dx,al; mov al,7; out 0xf4,al
const std::vector<uint8_t> kPrintAndExit7 = {0x66, 0xba, 0xf8, 0x03, 0xb0, 'A', 0xee, 0xb0, '\n',
                                             0xee, 0xb0, 0x07, 0xe6, 0xf4};

TEST(Vm, BootsAGuestThatPrintsAndExits) {
  FrameStore frames(uint64_t{1} << 30);
  Captured out;
  Vm vm(frames, parse_elf(tiny_elf(kPrintAndExit7)), {.id = 0, .mem_bytes = 16 << 20, .cmdline = ""},
        out.sink());
  while (vm.run_slice(1000)) {
  }
  ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
  EXPECT_EQ(vm.exit_status(), 7);
  EXPECT_EQ(out.lines, std::vector<std::string>{"A"});
  EXPECT_EQ(vm.stats().instructions, 7u);
}

// mov esp,0x200000; mov ebx,0x300000; call rbx; call rbx; out 0xf4,al — exits with what the
// function at 0x300000 returns in AL the second time.
const std::vector<uint8_t> kCallTwice = {0xbc, 0x00, 0x00, 0x20, 0x00, 0xbb, 0x00, 0x00, 0x30,
                                         0x00, 0xff, 0xd3, 0xff, 0xd3, 0xe6, 0xf4};
constexpr uint64_t kCallee = 0x300000;

// Decoded instructions are cached per guest-physical page; a page that gets another frame
// must be decoded again. Here it is ballooned out (inflation unmaps it) and comes back as a
// fresh page that the host fills, as a device would: the second call runs the new bytes.
TEST(Vm, APageGivenAnotherFrameIsDecodedAgain) {
  FrameStore frames(uint64_t{1} << 30);
  Captured out;
  Vm vm(frames, parse_elf(tiny_elf(kCallTwice)), {.id = 0, .mem_bytes = 16 << 20, .cmdline = ""},
        out.sink());
  const uint8_t return5[] = {0xb0, 0x05, 0xc3};  // mov al,5; ret
  const uint8_t return9[] = {0xb0, 0x09, 0xc3};
  ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return5, sizeof return5));
  ASSERT_TRUE(vm.run_slice(5));  // through the first call's ret
  const uint64_t code_invalidations = vm.stats().code_invalidations;
  ASSERT_TRUE(vm.memory().drop(Gpa{kCallee}).has_value());
  EXPECT_EQ(vm.stats().code_invalidations, code_invalidations + 1);
  ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return9, sizeof return9));
  while (vm.run_slice(1000)) {
  }
  ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
  EXPECT_EQ(vm.exit_status(), 9) << "not the stale decoded 'mov al,5'";
}

TEST(Vm, TripleFaultStopsOnlyThatVm) {
  FrameStore frames(uint64_t{1} << 30);
  Captured out;
  // ud2 with no IDT: #UD cannot be delivered, nor #DF.
  Vm bad(frames, parse_elf(tiny_elf({0x0f, 0x0b})), {.id = 0, .mem_bytes = 16 << 20, .cmdline = ""},
         out.sink());
  Vm good(frames, parse_elf(tiny_elf(kPrintAndExit7)), {.id = 1, .mem_bytes = 16 << 20, .cmdline = ""},
          out.sink());
  Scheduler({&bad, &good}, 2, 1000).run([](size_t) {});
  ASSERT_EQ(bad.state(), Vm::State::kFailed);
  EXPECT_NE(bad.failure().find("triple fault"), std::string::npos) << bad.failure();
  EXPECT_NE(bad.failure().find("0x100000"), std::string::npos) << bad.failure();
  ASSERT_EQ(good.state(), Vm::State::kExited);
  EXPECT_EQ(good.exit_status(), 7);
}

TEST(Vm, HaltWithNothingToWakeItFails) {
  FrameStore frames(uint64_t{1} << 30);
  Captured out;
  Vm vm(frames, parse_elf(tiny_elf({0xfa, 0xf4})), {.id = 0, .mem_bytes = 16 << 20, .cmdline = ""},
        out.sink());  // cli; hlt
  while (vm.run_slice(1000)) {
  }
  ASSERT_EQ(vm.state(), Vm::State::kFailed);
  EXPECT_NE(vm.failure().find("halted with no interrupt"), std::string::npos) << vm.failure();
}

TEST(Vm, GuestTooBigForMemoryIsRefused) {
  FrameStore frames(uint64_t{1} << 30);
  Captured out;
  std::vector<uint8_t> big(3 << 20, 0x90);
  EXPECT_THROW(Vm(frames, parse_elf(tiny_elf(big)), {.id = 0, .mem_bytes = 4 << 20, .cmdline = ""},
                  out.sink()),
               std::runtime_error);
}

TEST(Vm, DemandPagingBacksOnlyTouchedMemory) {
  FrameStore frames(uint64_t{1} << 32);
  Captured out;
  // mov rdi,0x1000000; mov ecx,0x10000; xor eax,eax; rep stosq (512 KiB); out 0xf4,al
  Vm vm(frames,
        parse_elf(tiny_elf({0x48, 0xc7, 0xc7, 0x00, 0x00, 0x00, 0x01, 0xb9, 0x00, 0x00, 0x01, 0x00,
                            0x31, 0xc0, 0xf3, 0x48, 0xab, 0xe6, 0xf4})),
        {.id = 0, .mem_bytes = 256 << 20, .cmdline = ""}, out.sink());
  const uint64_t before = vm.stats().resident_pages;
  while (vm.run_slice(100000)) {
  }
  ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
  EXPECT_EQ(vm.stats().resident_pages - before, 128u) << "512 KiB written: exactly 128 new pages";
}

}  // namespace
}  // namespace densevm
