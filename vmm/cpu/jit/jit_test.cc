// The translator against the interpreter on hand-made code, hostile code first: each test
// runs the same bytes in two FlatVms, one interpreting and one translating every block at
// first sight, and compares everything the guest can see after each run() call.
#include "vmm/cpu/jit/jit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::testing {
namespace {

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000;

class Twins {
 public:
  explicit Twins(unsigned cpl = 3) : interp_(cpl), jit_(cpl) {
    std::string error;
    if (!jit_.vcpu().enable_translation({.hot_threshold = 0}, &error)) ADD_FAILURE() << error;
  }
  void map(uint64_t va, uint64_t size, unsigned perms) {
    interp_.map(va, size, perms);
    jit_.map(va, size, perms);
    regions_.push_back({va, size});
  }
  void write(uint64_t va, const std::vector<uint8_t>& bytes) {
    interp_.write(va, bytes.data(), bytes.size());
    jit_.write(va, bytes.data(), bytes.size());
  }
  void set_gpr(unsigned r, uint64_t v) {
    interp_.set_gpr(r, v);
    jit_.set_gpr(r, v);
  }
  void set_rip(uint64_t v) {
    interp_.set_rip(v);
    jit_.set_rip(v);
  }
  // One run() of `budget` on each; false (with a failure recorded) if they differ.
  bool run(uint64_t budget) {
    const cpu::RunResult a = interp_.vcpu().run(budget), b = jit_.vcpu().run(budget);
    EXPECT_EQ(a.reason, b.reason);
    EXPECT_EQ(a.retired, b.retired);
    return same() && a.reason == b.reason && a.retired == b.retired;
  }
  // Runs in slices of `budget` until the interpreter reaches `stop_rip` or stops.
  void run_to(uint64_t stop_rip, uint64_t budget, uint64_t max_slices = 100000) {
    for (uint64_t i = 0; i < max_slices && interp_.rip() != stop_rip; ++i) {
      if (!run(budget)) return;
      if (interp_.vcpu().counters().retired == 0 && interp_.rip() != stop_rip) continue;
    }
  }
  FlatVm& interp() { return interp_; }
  FlatVm& jit() { return jit_; }
  [[nodiscard]] cpu::jit::Stats stats() { return jit_.vcpu().translation_stats(); }

 private:
  bool same() {
    cpu::Vcpu& a = interp_.vcpu();
    cpu::Vcpu& b = jit_.vcpu();
    bool ok = true;
    for (unsigned r = 0; r < 16; ++r) {
      EXPECT_EQ(a.state().gpr[r], b.state().gpr[r]) << "gpr " << r;
      ok = ok && a.state().gpr[r] == b.state().gpr[r];
    }
    EXPECT_EQ(a.state().rip, b.state().rip);
    EXPECT_EQ(a.rflags(), b.rflags());
    EXPECT_EQ(a.state().cr2, b.state().cr2);
    EXPECT_EQ(a.counters().retired, b.counters().retired);
    EXPECT_EQ(a.counters().exceptions, b.counters().exceptions);
    EXPECT_EQ(a.last_exception().vector, b.last_exception().vector);
    EXPECT_EQ(a.last_exception().error_code, b.last_exception().error_code);
    EXPECT_EQ(a.instruction_rip(), b.instruction_rip());
    ok = ok && a.state().rip == b.state().rip && a.rflags() == b.rflags() &&
         a.counters().retired == b.counters().retired &&
         a.instruction_rip() == b.instruction_rip();
    for (const auto& [va, size] : regions_) {
      std::vector<uint8_t> x(size), y(size);
      interp_.read(va, x.data(), size);
      jit_.read(va, y.data(), size);
      EXPECT_EQ(x, y) << "memory at " << std::hex << va;
      ok = ok && x == y;
    }
    return ok;
  }

  FlatVm interp_, jit_;
  std::vector<std::pair<uint64_t, uint64_t>> regions_;
};

constexpr unsigned kRwx = FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec;
constexpr unsigned kRw = FlatVm::kRead | FlatVm::kWrite;

TEST(Translator, LoopIsChainedAndMatches) {
  Twins t;
  t.map(kCode, 0x1000, kRwx);
  // mov eax,0; mov ecx,1000; l: add rax,rcx; xor rdx,rax; dec ecx; jnz l; nop
  t.write(kCode, {0xb8, 0, 0, 0, 0, 0xb9, 0xe8, 3, 0, 0, 0x48, 0x01, 0xc8, 0x48, 0x31, 0xc2,
                  0xff, 0xc9, 0x75, 0xf6, 0x90});
  t.set_rip(kCode);
  ASSERT_TRUE(t.run(2 + 4 * 1000));
  EXPECT_EQ(t.jit().gpr(0), 500500u);
  EXPECT_EQ(t.jit().rip(), kCode + 20);
  EXPECT_GT(t.stats().retired_translated, 3000u);
  EXPECT_GE(t.stats().chained, 1u);
}

}  // namespace
}  // namespace densevm::testing
