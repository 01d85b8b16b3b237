// Translator on its own: a block larger than its fixed text buffer is assembled again in a
// growing one (code of the same length as with room to spare), and the fixed buffer serves
// the next block that fits.
#include "vmm/cpu/jit/translator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu::jit {
namespace {

struct OneTranslator {
  explicit OneTranslator(const VcpuAccess::Layout& layout, size_t text_bytes) : translator(layout, text_bytes) {
    std::string error;
    arena = CodeArena::create(1 << 20, &error);
    EXPECT_NE(arena, nullptr) << error;
    EXPECT_TRUE(translator.emit_stubs(*arena));
  }
  Translator translator;
  std::unique_ptr<CodeArena> arena;
  BlockCache cache;
};

TEST(Translator, BlockLargerThanTheFixedTextBufferIsAssembledInAGrowingOne) {
  densevm::testing::FlatVm vm;
  const VcpuAccess::Layout layout = VcpuAccess::layout(vm.vcpu());
  // 20 x add [rax+rbx*8+0x100], rcx (a soft-TLB lookup and a slow path each), then ret;
  // INT3 (0xcc) everywhere else: a block of one instruction.
  std::vector<uint8_t> page(4096, 0xcc);
  const uint8_t kAdd[] = {0x48, 0x01, 0x8c, 0xd8, 0x00, 0x01, 0x00, 0x00};
  for (unsigned i = 0; i < 20; ++i) std::memcpy(page.data() + i * sizeof kAdd, kAdd, sizeof kAdd);
  page[20 * sizeof kAdd] = 0xc3;

  constexpr size_t kSmall = 512;
  OneTranslator small(layout, kSmall), roomy(layout, Translator::kTextBytes);
  ASSERT_NE(small.arena, nullptr);
  ASSERT_NE(roomy.arena, nullptr);
  for (const unsigned offset : {0u, 0x200u, 0u}) {
    Block& a = *small.cache.new_block(0x1000 | offset);
    Block& b = *roomy.cache.new_block(0x1000 | offset);
    ASSERT_EQ(small.translator.translate(page.data(), offset, a, small.cache, *small.arena),
              Translator::Result::kOk);
    ASSERT_EQ(roomy.translator.translate(page.data(), offset, b, roomy.cache, *roomy.arena),
              Translator::Result::kOk);
    EXPECT_EQ(a.count, offset == 0 ? 21 : 1);
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(a.code_bytes, b.code_bytes);
    // The first block did not fit the small buffer, INT3's did (no kErrorTooLarge: no retry).
    if (offset == 0) {
      EXPECT_GT(a.code_bytes, kSmall);
    } else {
      EXPECT_LE(a.code_bytes, kSmall);
    }
    EXPECT_NE(a.code, nullptr);
  }
}

}  // namespace
}  // namespace densevm::cpu::jit
