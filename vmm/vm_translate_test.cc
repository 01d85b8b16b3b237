// VM-level behaviour of translated guest code: a page that gets another frame behind it
// (balloon, rollback, copy-on-write) drops its translations as it drops its decoded
// instructions, and clones of a template run its translations only where they still map
// its frames.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/tiny_elf.h"
#include "vmm/frozen_vm.h"
#include "vmm/vm.h"
#include "vmm/vm_image.h"

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

// Clones of a template whose callee is translated, with sharing on (true) or off: the guest
// sees the same either way, and only sharing runs the template's code.
class VmTranslateClones : public ::testing::TestWithParam<bool> {
 protected:
  [[nodiscard]] CpuConfig cpu() const { return {.translate = true, .jit = {.hot_threshold = 2, .share = GetParam()}}; }
  // `code` run to its marker with `callee` at `callee_at`, frozen.
  FrozenVm frozen_at_marker(const std::vector<uint8_t>& code, uint64_t callee_at, const std::vector<uint8_t>& callee) {
    auto vm = std::make_unique<Vm>(frames_, parse_elf(tiny_elf(code)),
                                   VmConfig{.id = 0, .mem_bytes = 16 << 20, .cmdline = "", .cpu = cpu()},
                                   [](int, std::string_view) {});
    EXPECT_TRUE(vm->memory().write(Gpa{callee_at}, callee.data(), callee.size()));
    EXPECT_TRUE(vm->run_slice(100000));
    EXPECT_GT(vm->stats().translation.blocks_translated, 0u);
    return freeze(std::move(vm), std::nullopt, {});
  }
  std::unique_ptr<Vm> clone(const FrozenVm& t, int k) {
    return restore_vm(vm_image(t), frames_, [](int, std::string_view) {},
                      {.lazy = true, .vm_id = k, .clone = static_cast<uint64_t>(k) + 1, .same_vm = false, .cpu = cpu()});
  }
  static void run_to_end(Vm& vm) {
    while (vm.run_slice(1000)) {
    }
    ASSERT_EQ(vm.state(), Vm::State::kExited) << vm.failure();
  }

  FrameStore frames_{uint64_t{1} << 30};
};

// After the marker: call rbx (the template's translation of 'mov al,5; ret'), then the guest
// rewrites that code page in place ('mov byte [0x300001],9'), calls it again and exits with
// what it returned. Each clone must see its own write, and its write must not take the
// template's blocks from the clones after it.
TEST_P(VmTranslateClones, AGuestRewritingSharedCodeRunsItsOwnBytes) {
  std::vector<uint8_t> code(kCallMany.begin(), kCallMany.end() - 4);  // to the marker
  const std::vector<uint8_t> after = {0xff, 0xd3, 0xc6, 0x04, 0x25, 0x01, 0x00, 0x30, 0x00, 0x09, 0xff, 0xd3, 0xe6, 0xf4};
  code.insert(code.end(), after.begin(), after.end());
  FrozenVm frozen = frozen_at_marker(code, kCallee, {0xb0, 0x05, 0xc3});
  const cpu::jit::Stats template_before = frozen.vm->stats().translation;
  std::vector<uint64_t> reused;
  for (int k = 0; k < 3; ++k) {
    std::unique_ptr<Vm> c = clone(frozen, k);
    run_to_end(*c);
    EXPECT_EQ(c->exit_status(), 9) << "clone " << k << " ran a stale translation of 'mov al,5'";
    const cpu::jit::Stats s = c->stats().translation;
    EXPECT_EQ(s.shared_reused > 0, GetParam()) << "clone " << k;
    EXPECT_EQ(s.shared_bytes > 0, GetParam()) << "clone " << k;
    // Only the template's code can have run translated: nothing after the marker is hot.
    EXPECT_EQ(s.retired_translated > 0, GetParam()) << "clone " << k;
    EXPECT_EQ(s.blocks_translated, 0u) << "clone " << k;
    reused.push_back(s.shared_reused);
  }
  EXPECT_EQ(reused[1], reused[0]) << "a clone's write took shared blocks from its siblings";
  EXPECT_EQ(reused[2], reused[0]);
  const cpu::jit::Stats template_after = frozen.vm->stats().translation;
  EXPECT_EQ(template_after.blocks_invalidated, template_before.blocks_invalidated);
  EXPECT_EQ(template_after.blocks_translated, template_before.blocks_translated);
}

// The callee's first instruction, 'mov eax,imm32', starts on one page and ends on the next
// (the interpreter runs it): a clone whose second page holds other bytes returns those.
TEST_P(VmTranslateClones, CodeCrossingIntoARewrittenPageRunsTheNewBytes) {
  constexpr uint64_t kCrossing = 0x300fff;  // b8 | 05 00 00 00 c3
  std::vector<uint8_t> code = kCallMany;
  code[6] = 0xff;  // mov ebx,0x300fff
  code[7] = 0x0f;
  FrozenVm frozen = frozen_at_marker(code, kCrossing, {0xb8, 0x05, 0x00, 0x00, 0x00, 0xc3});
  std::unique_ptr<Vm> rewritten = clone(frozen, 0), kept = clone(frozen, 1);
  const uint8_t nine = 9;  // written as a device or a loader would
  ASSERT_TRUE(rewritten->memory().write(Gpa{kCrossing + 1}, &nine, 1));
  run_to_end(*rewritten);
  run_to_end(*kept);
  EXPECT_EQ(rewritten->exit_status(), 9);
  EXPECT_EQ(kept->exit_status(), 5);
  EXPECT_EQ(kept->stats().translation.shared_reused > 0, GetParam());
}

INSTANTIATE_TEST_SUITE_P(SharingOnOff, VmTranslateClones, ::testing::Bool());

}  // namespace
}  // namespace densevm
