// The translator against the interpreter on hand-made code, hostile code first: each test
// runs the same bytes in two FlatVms, one interpreting and one translating every block at
// first sight, and compares everything the guest can see after each run() call.
#include "vmm/cpu/jit/jit.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::testing {
namespace {

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000;

class Twins {
 public:
  explicit Twins(unsigned cpl = 3, cpu::jit::Config config = {.hot_threshold = 0}) : interp_(cpl), jit_(cpl) {
    std::string error;
    if (!jit_.vcpu().enable_translation(config, &error)) ADD_FAILURE() << error;
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
  // Runs in slices of `budget` until the run ends otherwise (the test code ends in UD2).
  void run_to_end(uint64_t budget) {
    for (int slices = 0; slices < 100000; ++slices) {
      const cpu::RunResult r = interp_.vcpu().run(budget);
      const cpu::RunResult j = jit_.vcpu().run(budget);
      EXPECT_EQ(r.reason, j.reason);
      EXPECT_EQ(r.retired, j.retired);
      if (!same() || r.reason != cpu::StopReason::kBudget) return;
    }
    ADD_FAILURE() << "the code did not end";
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

// A block runs whole or not at all against the budget: every budget stops at the same
// instruction as the interpreter, in one run() or in a sequence of them.
TEST(Translator, StopsAtEveryBudgetExactly) {
  // l: add rax,rcx; xor rdx,rax; dec ecx; jnz l (from ecx = 40)
  const std::vector<uint8_t> loop = {0xb9, 40, 0, 0, 0, 0x48, 0x01, 0xc8, 0x48, 0x31,
                                     0xc2, 0xff, 0xc9, 0x75, 0xf6, 0x90};
  for (uint64_t budget = 1; budget <= 40; ++budget) {
    Twins t;
    t.map(kCode, 0x1000, kRwx);
    t.write(kCode, loop);
    t.set_rip(kCode);
    ASSERT_TRUE(t.run(budget)) << "budget " << budget;
    for (uint64_t next : {1u, 2u, 3u, 7u}) ASSERT_TRUE(t.run(next)) << "budget " << budget;
  }
}

// A fault in the middle of a block retires exactly the instructions before it; the guest
// sees RIP, CR2 and the registers as after those.
TEST(Translator, FaultInTheMiddleOfABlockRetiresWhatCameBefore) {
  Twins t;
  t.map(kCode, 0x1000, kRwx);
  t.map(kData, 0x1000, kRw);
  // mov eax,1; mov ebx,2; mov rcx,[rsi]; mov edx,3 — rsi points past the data page
  t.write(kCode, {0xb8, 1, 0, 0, 0, 0xbb, 2, 0, 0, 0, 0x48, 0x8b, 0x0e, 0xba, 3, 0, 0, 0, 0x90});
  t.set_gpr(6, kData + 0x1000);
  t.set_rip(kCode);
  ASSERT_TRUE(t.run(100));
  EXPECT_EQ(t.jit().vcpu().counters().retired, 2u);
  EXPECT_EQ(t.jit().rip(), kCode + 10);
  EXPECT_EQ(t.jit().vcpu().last_exception().vector, 14);
  EXPECT_EQ(t.jit().vcpu().state().cr2, kData + 0x1000);
  EXPECT_EQ(t.jit().gpr(3), 2u);
  EXPECT_EQ(t.jit().gpr(2), 0u);
  EXPECT_GE(t.stats().entries, 1u);
}

// Code that rewrites the next instruction of its own block: the store traps (the page
// holds translated code), the block is dropped and left right after the store, and the
// new bytes run.
TEST(Translator, CodeRewritingTheNextInstruction) {
  Twins t;
  t.map(kCode, 0x1000, kRwx);
  // l: mov byte [rip+2], 0x07 (the imm8 of the add below); add eax, 0x01; dec ecx; jnz l
  t.write(kCode, {0xb9, 3, 0, 0, 0, 0xc6, 0x05, 0x02, 0, 0, 0, 0x07, 0x83, 0xc0, 0x01,
                  0xff, 0xc9, 0x75, 0xf2, 0x90});
  t.set_rip(kCode);
  ASSERT_TRUE(t.run(1000));
  EXPECT_EQ(t.jit().gpr(0), 21u) << "three times add eax, 7";
  EXPECT_GE(t.stats().blocks_invalidated, 1u);
}

// A block jumping into the middle of one of its own instructions: the bytes decode as
// something else there.
TEST(Translator, JumpIntoTheMiddleOfAnInstruction) {
  Twins t;
  t.map(kCode, 0x1000, kRwx);
  // mov ecx,6; mov eax, 0x02ebc9ff (inside: "dec ecx; jmp +2" at +6); l: dec ecx;
  // m: test ecx,ecx; jnz +6 (into the immediate, whose jmp goes to m); ud2
  t.write(kCode, {0xb9, 6, 0, 0, 0, 0xb8, 0xff, 0xc9, 0xeb, 0x02, 0xff, 0xc9, 0x85, 0xc9, 0x75,
                  0xf6, 0x0f, 0x0b});
  t.set_rip(kCode);
  t.run_to_end(5);
  EXPECT_EQ(t.jit().rip(), kCode + 16);
  EXPECT_EQ(t.jit().vcpu().last_exception().vector, 6);
  EXPECT_EQ(t.jit().vcpu().counters().retired, 2u + 3 + 5 * 4);
}

// Running off the end of the code into a page that is not mapped faults at the fetch of
// the next page, after the last instruction of the first retired.
TEST(Translator, BlockRunningIntoAnUnmappedPage) {
  Twins t;
  t.map(kCode, 0x1000, kRwx);
  std::vector<uint8_t> nops(16, 0x90);
  t.write(kCode + 0x1000 - 16, nops);
  t.set_rip(kCode + 0x1000 - 16);
  ASSERT_TRUE(t.run(100));
  EXPECT_EQ(t.jit().vcpu().counters().retired, 16u);
  EXPECT_EQ(t.jit().vcpu().last_exception().vector, 14);
  EXPECT_EQ(t.jit().vcpu().state().cr2, kCode + 0x1000);
}

// A 15-byte instruction across a page boundary is the interpreter's (the block before it
// ends there); when the second page cannot be fetched, its fetch faults at the boundary.
TEST(Translator, FifteenByteInstructionAcrossAPageBoundary) {
  // Five NOPs, then cs cs cs cs mov qword [rax+0], 0x55667788 (15 bytes, 7 of them on the
  // next page), then a NOP.
  const std::vector<uint8_t> code = {0x90, 0x90, 0x90, 0x90, 0x90, 0x2e, 0x2e, 0x2e, 0x2e, 0x48,
                                     0xc7, 0x80, 0x00, 0x00, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55,
                                     0x90};
  for (const bool second_page_executable : {true, false}) {
    Twins t;
    t.map(kCode, 0x1000, kRwx);
    t.map(kCode + 0x1000, 0x1000, second_page_executable ? kRwx : kRw);
    t.map(kData, 0x1000, kRw);
    t.write(kCode + 0x1000 - 13, code);
    t.set_gpr(0, kData);
    t.set_rip(kCode + 0x1000 - 13);
    ASSERT_TRUE(t.run(7));
    if (second_page_executable) {
      EXPECT_EQ(t.jit().vcpu().counters().retired, 7u);
      uint64_t stored = 0;
      t.jit().read(kData, &stored, 8);
      EXPECT_EQ(stored, 0x55667788u);
    } else {
      EXPECT_EQ(t.jit().vcpu().counters().retired, 5u);
      EXPECT_EQ(t.jit().vcpu().last_exception().vector, 14);
      EXPECT_EQ(t.jit().vcpu().state().cr2, kCode + 0x1000);
    }
  }
}

// A loop whose back edge (JNZ rel32) crosses the page boundary, as one in Linux's XZ
// decompressor does: the block before it runs it through its handler and goes straight back
// into the loop (VcpuAccess::run_crossing), not out to the run loop each time, and every
// budget still stops where the interpreter does.
TEST(Translator, LoopWithItsBranchAcrossAPageBoundary) {
  // 0xff0: mov ecx,300; l: add rax,rcx; xor rdx,rax; dec ecx; 0xffd: jnz l (0f 85 rel32,
  // three bytes on each page); 0x1003: ud2
  const std::vector<uint8_t> code = {0xb9, 0x2c, 0x01, 0, 0, 0x48, 0x01, 0xc8, 0x48, 0x31, 0xc2,
                                     0xff, 0xc9, 0x0f, 0x85, 0xf2, 0xff, 0xff, 0xff, 0x0f, 0x0b};
  for (uint64_t budget : {1u, 2u, 3u, 5u, 7u, 100000u}) {
    Twins t;
    t.map(kCode, 0x2000, kRwx);
    t.write(kCode + 0xff0, code);
    t.set_rip(kCode + 0xff0);
    t.run_to_end(budget);
    EXPECT_EQ(t.jit().gpr(0), 45150u) << "budget " << budget;  // 1 + 2 + ... + 300
    EXPECT_EQ(t.jit().vcpu().counters().retired, 1u + 4 * 300) << "budget " << budget;
    EXPECT_EQ(t.jit().vcpu().last_exception().vector, 6) << "budget " << budget;
    if (budget == 100000u) {
      // One way in from the run loop (and one for the UD2's page), not one per iteration.
      EXPECT_LE(t.stats().entries, 4u);
      EXPECT_GT(t.stats().retired_translated, 4u * 299);
    }
  }
}

// Calls through a register into another page and returns: every jump leaves its page or
// is indirect, so each goes through the dispatch stub (or next_block behind it), never out
// to the run loop, and the registers and stops match the interpreter's at every budget.
TEST(Translator, IndirectCallsIntoAnotherPageAreDispatchedInTranslatedCode) {
  // kCode: mov ecx,500; l: call rbx; add rdx,rax; dec ecx; jnz l; ud2
  // kCode+0x1000 (rbx): lea rax,[rcx+rcx]; ret
  const std::vector<uint8_t> caller = {0xb9, 0xf4, 0x01, 0, 0, 0xff, 0xd3, 0x48, 0x01, 0xc2,
                                       0xff, 0xc9, 0x75, 0xf7, 0x0f, 0x0b};
  const std::vector<uint8_t> callee = {0x48, 0x8d, 0x04, 0x09, 0xc3};
  for (uint64_t budget : {1u, 4u, 9u, 100000u}) {
    Twins t;
    t.map(kCode, 0x2000, kRwx);
    // The stack's page in its own soft-TLB slot (kData's is kCode's: a push would evict
    // the fetch entry, and every return would go through the run loop).
    t.map(kData + 0x5000, 0x1000, kRw);
    t.write(kCode, caller);
    t.write(kCode + 0x1000, callee);
    t.set_gpr(3, kCode + 0x1000);
    t.set_gpr(4, kData + 0x5800);
    t.set_rip(kCode);
    t.run_to_end(budget);
    EXPECT_EQ(t.jit().gpr(2), 250500u) << "budget " << budget;  // 2 x (1 + ... + 500)
    if (budget == 100000u) {
      EXPECT_LE(t.stats().entries, 6u);
      EXPECT_GE(t.stats().linked, 990u);
    }
  }
}

// Flags set by an ALU op with a memory operand and read by the next instruction from the
// host's flags (CMP then CMOVE, CMP then SETB, ADD then ADC): the same registers as the
// interpreter at every budget, with the operands' loads hitting the soft TLB and missing it
// (the first iteration).
TEST(Translator, FlagsOfAnOpWithAMemoryOperandReadByTheNextInstruction) {
  // mov ecx,100; l: mov rax,rcx; and eax,7; cmp rax,[rdi]; cmove rdx,rcx; cmp rax,[rdi+8];
  // setb bl; add rsi,rbx; add rsi,[rdi+16]; adc rsi,0; dec ecx; jnz l; ud2
  const std::vector<uint8_t> code = {
      0xb9, 100, 0, 0, 0, 0x48, 0x89, 0xc8, 0x83, 0xe0, 0x07, 0x48, 0x3b, 0x07, 0x48, 0x0f,
      0x44, 0xd1, 0x48, 0x3b, 0x47, 0x08, 0x0f, 0x92, 0xc3, 0x48, 0x01, 0xde, 0x48, 0x03, 0x77,
      0x10, 0x48, 0x83, 0xd6, 0x00, 0xff, 0xc9, 0x75, 0xdd, 0x0f, 0x0b};
  for (uint64_t budget : {1u, 2u, 5u, 13u, 100000u}) {
    Twins t;
    t.map(kCode, 0x1000, kRwx);
    t.map(kData + 0x3000, 0x1000, kRw);
    t.write(kCode, code);
    t.write(kData + 0x3000, {3, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    t.set_gpr(7, kData + 0x3000);
    t.set_rip(kCode);
    t.run_to_end(budget);
    EXPECT_EQ(t.jit().gpr(2), 3u) << "budget " << budget;  // the last rcx with rcx & 7 == 3
    EXPECT_EQ(t.jit().vcpu().counters().retired, 1u + 11 * 100) << "budget " << budget;
  }
}

// A TLB miss in an instruction that does not end its block runs the whole instruction
// again through the slow accesses (its slow version). ADD [rdi], ecx after a read of the
// page: its load hits and its store misses (a read walk makes no write entry), so the slow
// version loads again and must add exactly once. CMOVE with a missing source after a CMP
// whose flags were kept in the host's: the slow version reads ZF from the lazy record (the
// TLB compare clobbered the host's).
TEST(Translator, AMissAfterAHitInOneInstructionRunsItOnceThroughItsSlowVersion) {
  // mov ecx,8; l: mov r8d,[rdi]; add [rdi],ecx; cmp ecx,4; cmove edx,[rsi];
  // add rdi,0x1000; add rsi,0x1000; dec ecx; jnz l; ud2
  const std::vector<uint8_t> code = {0xb9, 8, 0, 0, 0, 0x44, 0x8b, 0x07, 0x01, 0x0f, 0x83, 0xf9,
                                     0x04, 0x0f, 0x44, 0x16, 0x48, 0x81, 0xc7, 0x00, 0x10, 0x00,
                                     0x00, 0x48, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00, 0xff, 0xc9,
                                     0x75, 0xe3, 0x0f, 0x0b};
  constexpr uint64_t kSources = kData + 0x10000;
  for (uint64_t budget : {1u, 3u, 7u, 100000u}) {
    Twins t;
    t.map(kCode, 0x1000, kRwx);
    t.map(kData, 8 * 0x1000, kRw);
    t.map(kSources, 8 * 0x1000, kRw);
    t.write(kCode, code);
    for (uint8_t k = 0; k < 8; ++k) {
      t.write(kData + k * 0x1000, {static_cast<uint8_t>(100 + k), 0, 0, 0});
      t.write(kSources + k * 0x1000, {static_cast<uint8_t>(200 + k), 0, 0, 0});
    }
    t.set_gpr(7, kData);
    t.set_gpr(6, kSources);
    t.set_rip(kCode);
    t.run_to_end(budget);
    for (uint8_t k = 0; k < 8; ++k) {
      uint32_t v = 0;
      t.jit().read(kData + k * 0x1000, &v, sizeof v);
      EXPECT_EQ(v, 100u + k + (8u - k)) << "page " << int{k} << ", budget " << budget;
    }
    EXPECT_EQ(t.jit().gpr(2), 204u) << "budget " << budget;  // ecx == 4 on the fifth page
    EXPECT_EQ(t.jit().vcpu().counters().tlb_misses, t.interp().vcpu().counters().tlb_misses)
        << "the slow version's load hits: no second walk";
  }
}

// A program loaded over code that ran before (one page writes the other, then calls it):
// every time, the new bytes run, not the old translation.
TEST(Translator, LoadingAProgramOverTranslatedCode) {
  Twins t;
  t.map(kCode, 0x2000, kRwx);
  t.map(kData, 0x1000, kRw);
  // The loader, at kCode: for ecx = 1..8: write "mov eax, ecx-value; ret" (b8 imm32 c3) at
  // kCode+0x1000, call it, add the result to rbx.
  //   mov ecx,1
  // l: mov byte [rdi], 0xb8; mov [rdi+1], ecx; mov byte [rdi+5], 0xc3; call rdi;
  //   add rbx, rax; inc ecx; cmp ecx, 9; jne l
  t.write(kCode, {0xb9, 1, 0, 0, 0, 0xc6, 0x07, 0xb8, 0x89, 0x4f, 0x01, 0xc6, 0x47, 0x05, 0xc3,
                  0xff, 0xd7, 0x48, 0x01, 0xc3, 0xff, 0xc1, 0x83, 0xf9, 0x09, 0x75, 0xea, 0x0f,
                  0x0b});
  t.set_gpr(7, kCode + 0x1000);
  t.set_gpr(4, kData + 0x800);
  t.set_rip(kCode);
  t.run_to_end(7);
  EXPECT_EQ(t.jit().gpr(3), 36u) << "1 + 2 + ... + 8: each call ran the bytes just written";
  EXPECT_GE(t.stats().blocks_invalidated, 7u);
}

// Inline shifts, IMUL, ADC and SBB, with flags that flag liveness leaves unwritten (SHL's
// before ADD, IMUL's before SAR) and flags read by ADC, SBB and SETC: the same registers,
// flags and stops as the interpreter at every slice size.
TEST(Translator, ShiftsMultipliesAndCarriesWithDeadFlags) {
  // mov ecx,200; l: mov rax,rcx; shl rax,3; add rax,rdx; adc rdx,rax; imul rbx,rax,7;
  // sar rbx,1; sbb rsi,rbx; shr rsi,cl; setc dil; dec ecx; jnz l; ud2
  const std::vector<uint8_t> code = {
      0xb9, 200, 0, 0, 0, 0x48, 0x89, 0xc8, 0x48, 0xc1, 0xe0, 0x03, 0x48, 0x01, 0xd0,
      0x48, 0x11, 0xc2, 0x48, 0x6b, 0xd8, 0x07, 0x48, 0xd1, 0xfb, 0x48, 0x19, 0xde,
      0x48, 0xd3, 0xee, 0x40, 0x0f, 0x92, 0xc7, 0xff, 0xc9, 0x75, 0xde, 0x0f, 0x0b};
  for (uint64_t budget : {1u, 3u, 7u, 11u, 100000u}) {
    Twins t;
    t.map(kCode, 0x1000, kRwx);
    t.write(kCode, code);
    t.set_gpr(2, 0x8000000000000001u);
    t.set_gpr(6, 0x123456789abcdefu);
    t.set_rip(kCode);
    t.run_to_end(budget);
    if (budget == 100000u) {
      EXPECT_GT(t.stats().retired_translated, 1500u);
    }
  }
}

// A loop whose body spans two pages: the jumps between them go block to block in
// translated code (no interrupt is pending), and every slice still stops where the
// interpreter does.
TEST(Translator, JumpsToAnotherPageGoOnInTranslatedCode) {
  for (uint64_t budget : {1u, 2u, 5u, 100000u}) {
    Twins t;
    t.map(kCode, 0x2000, kRwx);
    // mov ecx,100; l: add rax,rcx; jmp kCode+0x1000
    t.write(kCode, {0xb9, 100, 0, 0, 0, 0x48, 0x01, 0xc8, 0xe9, 0xf3, 0x0f, 0, 0});
    // xor rdx,rax; dec ecx; jnz l; ud2
    t.write(kCode + 0x1000, {0x48, 0x31, 0xc2, 0xff, 0xc9, 0x0f, 0x85, 0xfa, 0xef, 0xff, 0xff,
                             0x0f, 0x0b});
    t.set_rip(kCode);
    t.run_to_end(budget);
    EXPECT_EQ(t.jit().gpr(0), 5050u);
    if (budget == 100000u) {
      EXPECT_GT(t.stats().linked, 100u);
    }
  }
}

// The cache is bounded: 2300 blocks (an ADD and a JZ each, over four pages) run three times
// in a 1 MiB cache fill it again and again; each time it is emptied and counted, it never
// holds more than its bound, and the guest sees what the interpreter gives.
TEST(Translator, AFullCacheIsFlushedAndStaysBounded) {
  constexpr size_t kBound = 1 << 20;
  Twins t(3, {.hot_threshold = 0, .cache_bytes = kBound});
  t.map(kCode, 0x5000, kRwx);
  std::vector<uint8_t> code = {0xb9, 3, 0, 0, 0};  // mov ecx,3
  const size_t loop = code.size();
  for (uint32_t i = 1; code.size() < 0x4000; ++i) {
    code.insert(code.end(), {0x05, static_cast<uint8_t>(i), static_cast<uint8_t>(i >> 8), 0, 0});  // add eax,i
    code.insert(code.end(), {0x74, 0x00});                                                          // jz +0
  }
  const auto back = static_cast<int32_t>(loop) - static_cast<int32_t>(code.size() + 8);
  code.insert(code.end(), {0xff, 0xc9, 0x0f, 0x85});  // dec ecx; jnz loop
  for (int k = 0; k < 4; ++k) code.push_back(static_cast<uint8_t>(static_cast<uint32_t>(back) >> (8 * k)));
  code.insert(code.end(), {0x0f, 0x0b});  // ud2
  t.write(kCode, code);
  t.set_rip(kCode);
  for (int slices = 0; slices < 1000; ++slices) {
    ASSERT_TRUE(t.run(997));
    EXPECT_LE(t.stats().cache_bytes, kBound);
    if (t.jit().rip() == kCode + code.size() - 2) break;
  }
  EXPECT_EQ(t.jit().rip(), kCode + code.size() - 2) << "the code did not end";
  EXPECT_GE(t.stats().flushes, 2u);
  EXPECT_GT(t.stats().blocks_translated, 3 * 2000u);
}

// The fuzz drivers reuse one translating FlatVm for every input: after reset() a program
// must run as on a new VM (memory zeroed, registers and counters as constructed, the
// translations of the last program gone), or one input's result would depend on the last.
TEST(FlatVmReset, RunsTheNextProgramAsANewVmDoes) {
  const std::vector<uint8_t> first = {0xC7, 0x07, 0x11, 0x11, 0x11, 0x11,  // mov dword [rdi], 0x11111111
                                      0x48, 0xFF, 0xC0,                    // inc rax
                                      0x0F, 0x0B};                         // ud2
  const std::vector<uint8_t> second = {0xB8, 0x07, 0x00, 0x00, 0x00,  // mov eax, 7
                                       0x01, 0x07,                    // add [rdi], eax
                                       0x48, 0xFF, 0xC0,              // inc rax
                                       0x0F, 0x0B};                   // ud2
  auto load = [](FlatVm& vm, const std::vector<uint8_t>& code) {
    vm.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
    vm.map(kData, 0x1000, FlatVm::kRead | FlatVm::kWrite);
    vm.write(kCode, code.data(), code.size());
    vm.set_gpr(7, kData);
    vm.set_rip(kCode);
  };
  FlatVm fresh, reused;
  std::string error;
  ASSERT_TRUE(fresh.vcpu().enable_translation({.hot_threshold = 0}, &error)) << error;
  ASSERT_TRUE(reused.vcpu().enable_translation({.hot_threshold = 0}, &error)) << error;
  load(reused, first);
  ASSERT_EQ(reused.vcpu().run(100).reason, cpu::StopReason::kException);
  // A page the next program must not see; like the first program's two, its buffer is
  // nonzero at offset 0, so whichever of them the next map() reuses must be zeroed.
  reused.map(0x30000000, 0x1000, FlatVm::kRead | FlatVm::kWrite);
  const uint32_t marker = 0xAAAAAAAA;
  reused.write(0x30000000, &marker, 4);

  reused.reset();
  load(reused, second);
  load(fresh, second);
  const cpu::jit::Stats before = reused.vcpu().translation_stats();
  const cpu::RunResult a = fresh.vcpu().run(100), b = reused.vcpu().run(100);
  EXPECT_EQ(a.reason, cpu::StopReason::kException);
  EXPECT_EQ(b.reason, a.reason);
  EXPECT_EQ(b.retired, a.retired);
  EXPECT_EQ(reused.vcpu().counters().retired, 3u);
  EXPECT_EQ(reused.vcpu().counters().retired, fresh.vcpu().counters().retired);
  EXPECT_EQ(reused.gpr(0), 8u);  // rax from 0, as on the new VM
  EXPECT_EQ(reused.gpr(0), fresh.gpr(0));
  EXPECT_EQ(reused.rip(), fresh.rip());
  EXPECT_EQ(reused.rflags(), fresh.rflags());
  uint32_t x = 0, y = 0;
  fresh.read(kData, &x, 4);
  reused.read(kData, &y, 4);
  EXPECT_EQ(x, 7u);
  EXPECT_EQ(y, x);  // the first program's 0x11111111 is gone
  EXPECT_EQ(reused.vcpu().translation_stats().blocks_translated - before.blocks_translated,
            fresh.vcpu().translation_stats().blocks_translated);
  EXPECT_THROW(reused.read(0x30000000, &y, 4), std::out_of_range);
}

// DENSEVM_PERF_MAP: one process runs many VMs, each with its translator, on the scheduler's
// threads. Their records go to one map (and code) file as whole lines: with a FILE of its
// own per translator, lines broke where another's buffer was flushed into them.
TEST(PerfMap, ManyTranslatorsOnThreadsWriteWholeLines) {
  const std::string stem = "/tmp/perf-" + std::to_string(getpid());
  std::remove((stem + ".map").c_str());
  std::remove((stem + ".code").c_str());
  ASSERT_EQ(setenv("DENSEVM_PERF_MAP", "code", 1), 0);
  constexpr unsigned kVms = 4, kJumps = 2000;
  std::vector<std::unique_ptr<FlatVm>> vms;
  for (unsigned i = 0; i < kVms; ++i) {
    vms.push_back(std::make_unique<FlatVm>(3));
    std::string error;
    ASSERT_TRUE(vms.back()->vcpu().enable_translation({.hot_threshold = 0}, &error)) << error;
    vms.back()->map(kCode, 0x1000, kRwx);
    std::vector<uint8_t> code;
    for (unsigned j = 0; j < kJumps; ++j) code.insert(code.end(), {0xeb, 0x00});  // jmp +0
    vms.back()->write(kCode, code.data(), code.size());
    vms.back()->set_rip(kCode);
  }
  unsetenv("DENSEVM_PERF_MAP");
  std::vector<std::thread> threads;
  for (auto& vm : vms) threads.emplace_back([&vm] { (void)vm->vcpu().run(kJumps); });
  for (std::thread& t : threads) t.join();
  uint64_t blocks = 0;
  for (auto& vm : vms) {
    EXPECT_EQ(vm->rip(), kCode + 2 * kJumps);
    blocks += vm->vcpu().translation_stats().blocks_translated;
  }
  EXPECT_EQ(blocks, uint64_t{kVms} * kJumps);
  // Map lines are "<address> <size> <name>", code lines "<address> <name> <size bytes in
  // hex>", a name "stubs" or "guest_<gpa>", all hex; each code line matches a map line.
  const auto hex = [](const std::string& t) {
    return !t.empty() && t.find_first_not_of("0123456789abcdef") == std::string::npos;
  };
  const auto name = [&hex](const std::string& t) {
    return t == "stubs" || (t.rfind("guest_", 0) == 0 && hex(t.substr(6)));
  };
  std::map<std::string, uint64_t> sizes;  // address -> size, from the map
  for (const bool map : {true, false}) {
    const std::string path = stem + (map ? ".map" : ".code");
    std::ifstream in(path);
    ASSERT_TRUE(in) << path;
    uint64_t lines = 0, guest = 0;
    for (std::string line; std::getline(in, line); ++lines) {
      std::istringstream fields(line);
      std::string at, second, third, more;
      const bool three = (fields >> at >> second >> third) && !(fields >> more) && hex(at);
      bool ok = three && (map ? hex(second) && name(third) : name(second) && hex(third));
      if (ok && map) ok = sizes.emplace(at, std::stoull(second, nullptr, 16)).second;
      if (ok && !map) ok = sizes.contains(at) && third.size() == 2 * sizes[at];
      ASSERT_TRUE(ok) << path << " line " << lines << ": " << line.substr(0, 80);
      guest += line.find(" guest_") != std::string::npos;
    }
    EXPECT_EQ(guest, blocks) << path;
    EXPECT_EQ(lines, blocks + kVms) << path;  // and each translator's stubs
    std::remove(path.c_str());
  }
}

}  // namespace
}  // namespace densevm::testing
