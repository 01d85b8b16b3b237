// The decode cache's bound seen from a guest: code run at every byte offset of many pages
// (a NOP sled, the most records a page can hold) keeps the cache under its bound, and the
// flushes change nothing the guest sees.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/decode_cache.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::testing {
namespace {

TEST(VcpuDecodeBound, ANopSledOverManyPagesStaysWithinTheBound) {
  constexpr uint64_t kCode = 0x10000000, kPages = 256;  // 1 MiB of one-byte instructions
  FlatVm vm(0);
  vm.map(kCode, kPages * 4096, FlatVm::kRead | FlatVm::kExec);
  const std::vector<uint8_t> sled(kPages * 4096, 0x90);
  vm.write(kCode, sled.data(), sled.size());
  vm.set_rip(kCode);
  uint64_t peak = 0;
  // A page at a time, to see the cache's size as it grows.
  for (uint64_t p = 1; p <= kPages; ++p) {
    const RunOutcome out = vm.run_until(kCode + p * 4096, 4096);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message;
    ASSERT_EQ(out.instructions, 4096u);
    peak = std::max(peak, vm.vcpu().decode_cache_bytes());
  }
  EXPECT_EQ(vm.vcpu().counters().retired, kPages * 4096);
  // ~200 KiB a page: the 32 MiB bound is passed about two thirds of the way.
  EXPECT_GE(vm.vcpu().decode_cache_flushes(), 1u);
  EXPECT_LT(peak, cpu::DecodeCache::kDefaultMaxBytes + (256u << 10));
  EXPECT_EQ(vm.vcpu().counters().decodes, kPages * 4096);  // each offset decoded once
}

}  // namespace
}  // namespace densevm::testing
