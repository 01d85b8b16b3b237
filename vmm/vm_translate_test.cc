// VM-level behaviour of translated guest code: a page that gets another frame behind it
// (balloon, rollback, copy-on-write) drops its translations as it drops its decoded
// instructions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/tiny_elf.h"
#include "vmm/vm.h"

namespace densevm {
namespace {

using testing::tiny_elf;

// Calls the function at 0x300000 100 times (so it is translated), stops at a marker, calls
// it once more and exits with what it returned:
//   mov esp,0x200000; mov ebx,0x300000; mov ecx,100; l: call rbx; dec ecx; jnz l;
//   out 0xf6,al (a marker: the slice ends here); call rbx; out 0xf4,al
const std::vector<uint8_t> kCallMany = {0xbc, 0x00, 0x00, 0x20, 0x00, 0xbb, 0x00, 0x00, 0x30,
                                        0x00, 0xb9, 100,  0x00, 0x00, 0x00, 0xff, 0xd3, 0xff,
                                        0xc9, 0x75, 0xfa, 0xe6, 0xf6, 0xff, 0xd3, 0xe6, 0xf4};
constexpr uint64_t kCallee = 0x300000;

TEST(VmTranslate, APageGivenAnotherFrameIsTranslatedAgain) {
  FrameStore frames(uint64_t{1} << 30);
  Vm vm(frames, parse_elf(tiny_elf(kCallMany)),
        {.id = 0, .mem_bytes = 16 << 20, .cmdline = "", .cpu = {.translate = true, .jit = {.hot_threshold = 2}}},
        [](int, std::string_view) {});
  const uint8_t return5[] = {0xb0, 0x05, 0xc3};  // mov al,5; ret
  const uint8_t return9[] = {0xb0, 0x09, 0xc3};
  ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return5, sizeof return5));
  ASSERT_TRUE(vm.run_slice(100000));  // to the marker
  ASSERT_GT(vm.stats().translation.retired_translated, 200u);
  const uint64_t invalidated = vm.stats().translation.blocks_invalidated;
  ASSERT_TRUE(vm.memory().drop(Gpa{kCallee}).has_value());
  EXPECT_GT(vm.stats().translation.blocks_invalidated, invalidated);
  ASSERT_TRUE(vm.memory().write(Gpa{kCallee}, return9, sizeof return9));
  while (vm.run_slice(1000)) {
  }
  ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
  EXPECT_EQ(vm.exit_status(), 9) << "not the stale translation of 'mov al,5'";
}

}  // namespace
}  // namespace densevm
