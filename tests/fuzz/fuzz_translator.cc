// Fuzz target (LLVMFuzzerTestOneInput): arbitrary bytes as guest code, run twice under the
// SkippingKernel — interpreted, and translated — at CPL 3 and at CPL 0, in the same
// sequence of run() slices, and compared after every slice: registers, flags, RIP, CPL,
// CR2, retired count, exceptions delivered, the run's end; at the end, all guest memory.
//
// Byte 0 picks the slices (1, 7, 13, 64 or 2000 instructions), how hot a block must be
// before it is translated (at once, or after 1 or 3 visits, so interpreted and translated
// runs of one block interleave) and whether the page after the code's is executable; the
// rest is the code, placed 256 bytes before its page's end. The code may write itself (its
// page is writable), jump into its own instructions' middles, and run or reach with an
// instruction across its page's end into a page it may or may not fetch from.
//
// The rest of the code's page and the next page hold NOPs (0x90), not zeros: code that runs
// off its end or jumps before its start slides through them (back into the code, from
// before it). With zeros there, every fault in them (`add [rax], al`, a load through a wild
// RAX) resumed one byte on at a new block of 64 of them, so 87% of the host code translated
// was for those two pages, not the input (seed 1, 100 inputs: 131 of 152 MB).
//
// Findings abort: a crash, a sanitizer report, and any difference between the two runs.
//
//   LLVMFuzzerTestOneInput(bytes, size);  // returns 0 or aborts with a message
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_stats.h"
#include "tests/fuzz/skipping_kernel.h"
#include "tests/support/flat_vm.h"
#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu.h"

namespace {

using densevm::testing::FlatVm;
using densevm::testing::fuzz_stats;
using densevm::testing::SkippingKernel;

// The code runs from near a page's end, so blocks and instructions meet the boundary and
// the page after it (mapped, but not executable: fetches from it fault).
constexpr uint64_t kCodeBase = 0x20000f00;
constexpr uint64_t kDataBase = 0x10000000, kDataSize = 0x10000;
constexpr uint64_t kKernelBase = 0x30000000, kKernelStack = 0x31000000;
constexpr uint64_t kMaxInstructions = 2000;
constexpr size_t kMaxCode = 0x100;
constexpr uint64_t kSlices[] = {1, 7, 13, 64, kMaxInstructions};
constexpr uint32_t kHeat[] = {0, 1, 3};

const SkippingKernel kKernel{.base = kKernelBase,
                             .stack_top = kKernelStack + 0x2000,
                             .df_stack_top = kKernelStack + 0x3000};

const uint8_t* g_input = nullptr;
size_t g_input_size = 0;

[[noreturn]] void fail(const std::string& what, unsigned cpl, uint64_t retired) {
  std::fprintf(stderr, "fuzz_translator: %s (CPL %u start, after %llu instructions)\n",
               what.c_str(), cpl, static_cast<unsigned long long>(retired));
  std::fprintf(stderr, "input (%zu bytes):", g_input_size);
  for (size_t i = 0; i < g_input_size; ++i) std::fprintf(stderr, " %02x", g_input[i]);
  std::fprintf(stderr, "\n");
  std::abort();
}

// The VMs, made once and reset() before each input: a new VM, its code arena and pages
// cost more than the run itself. Each input still starts from a machine as new (its state,
// memory, soft TLB, decoded and translated code), so an input's run does not depend on the
// ones before it. Indexed by CPL (0 or 3: [cpl & 1]); the translating ones also by heat.
struct Machines {
  std::unique_ptr<FlatVm> interp[2];
  std::unique_ptr<FlatVm> jit[2][std::size(kHeat)];
  Machines() {
    for (const unsigned cpl : {0u, 3u}) {
      interp[cpl & 1] = std::make_unique<FlatVm>(cpl);
      for (size_t h = 0; h < std::size(kHeat); ++h) {
        auto vm = std::make_unique<FlatVm>(cpl);
        std::string error;
        if (!vm->vcpu().enable_translation({.hot_threshold = kHeat[h], .cache_bytes = 1 << 20}, &error)) {
          fail("translator unavailable: " + error, cpl, 0);
        }
        jit[cpl & 1][h] = std::move(vm);
      }
    }
  }
};

Machines& machines() {
  static Machines m;
  return m;
}

void set_up(FlatVm& vm, unsigned cpl, bool next_page_executable, const uint8_t* code,
            size_t size) {
  constexpr unsigned kRwx = FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec;
  vm.reset();
  vm.map(kCodeBase & ~uint64_t{0xfff}, 0x1000, kRwx);
  vm.map((kCodeBase & ~uint64_t{0xfff}) + 0x1000, 0x1000,
         next_page_executable ? kRwx : FlatVm::kRead | FlatVm::kWrite);
  vm.map(kDataBase, kDataSize, FlatVm::kRead | FlatVm::kWrite);
  vm.map(kKernelBase, 0x2000, FlatVm::kRead);
  vm.map(kKernelBase + 0x2000, 0x1000, FlatVm::kRead | FlatVm::kExec);
  vm.map(kKernelStack, 0x3000, FlatVm::kRead | FlatVm::kWrite);
  static const std::vector<uint8_t> kernel_pages = kKernel.pages();
  vm.write(kKernelBase, kernel_pages.data(), kernel_pages.size());
  static const std::vector<uint8_t> nops(0x2000, 0x90);  // the code's page and the next
  vm.write(kCodeBase & ~uint64_t{0xfff}, nops.data(), nops.size());
  vm.write(kCodeBase, code, size);
  for (unsigned i = 0; i < 16; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, code + (i * 8) % size, size - (i * 8) % size < 8 ? size - (i * 8) % size : 8);
    vm.set_gpr(i, i % 3 == 2 ? v : kDataBase + 0x8000 + (v & 0x3FF8));
  }
  vm.set_gpr(4, kDataBase + 0xF000);
  vm.set_rflags(0x202 | (code[0] & 0xD5u));
  vm.set_rip(kCodeBase);
  kKernel.enter(vm.vcpu(), cpl);
}

void compare(FlatVm& a, FlatVm& b, const densevm::cpu::RunResult& ra,
             const densevm::cpu::RunResult& rb, unsigned cpl) {
  densevm::cpu::Vcpu& x = a.vcpu();
  densevm::cpu::Vcpu& y = b.vcpu();
  const uint64_t at = x.counters().retired;
  if (ra.reason != rb.reason || ra.retired != rb.retired) fail("run results differ", cpl, at);
  for (unsigned r = 0; r < 16; ++r) {
    if (x.state().gpr[r] != y.state().gpr[r]) fail("gpr " + std::to_string(r) + " differs", cpl, at);
  }
  if (x.state().rip != y.state().rip) fail("rip differs", cpl, at);
  if (x.rflags() != y.rflags()) fail("rflags differ", cpl, at);
  if (x.state().cpl != y.state().cpl || x.state().cr2 != y.state().cr2) fail("cpl/cr2 differ", cpl, at);
  if (x.counters().retired != y.counters().retired ||
      x.counters().exceptions != y.counters().exceptions ||
      x.counters().unimplemented_ud != y.counters().unimplemented_ud) {
    fail("counters differ", cpl, at);
  }
  if (x.instruction_rip() != y.instruction_rip()) fail("instruction rip differs", cpl, at);
  if (x.halted() != y.halted() || x.stop_message() != y.stop_message()) fail("halt/stop differs", cpl, at);
}

void compare_memory(FlatVm& a, FlatVm& b, unsigned cpl) {
  const std::pair<uint64_t, uint64_t> regions[] = {
      {kCodeBase & ~uint64_t{0xfff}, 0x2000}, {kDataBase, kDataSize}, {kKernelStack, 0x3000}};
  static std::vector<uint8_t> x(kDataSize), y(kDataSize);  // the largest region; kept
  for (const auto& [va, size] : regions) {
    a.read(va, x.data(), size);
    b.read(va, y.data(), size);
    if (std::memcmp(x.data(), y.data(), size) != 0) fail("memory differs", cpl, a.vcpu().counters().retired);
  }
}

void run_at(unsigned cpl, uint8_t control, const uint8_t* code, size_t size) {
  FlatVm& interp = *machines().interp[cpl & 1];
  FlatVm& jit = *machines().jit[cpl & 1][(control >> 4) % std::size(kHeat)];
  const densevm::cpu::jit::Stats before = jit.vcpu().translation_stats();
  const bool next_page_executable = (control >> 6) & 1;
  set_up(interp, cpl, next_page_executable, code, size);
  set_up(jit, cpl, next_page_executable, code, size);
  const uint64_t slice = kSlices[control % std::size(kSlices)];
  while (interp.vcpu().counters().retired < kMaxInstructions) {
    const uint64_t budget = std::min(slice, kMaxInstructions - interp.vcpu().counters().retired);
    const densevm::cpu::RunResult ra = interp.vcpu().run(budget);
    const densevm::cpu::RunResult rb = jit.vcpu().run(budget);
    compare(interp, jit, ra, rb, cpl);
    if (ra.reason != densevm::cpu::StopReason::kBudget) break;
  }
  compare_memory(interp, jit, cpl);
  auto& stats = fuzz_stats();
  (cpl == 3 ? stats.ring3_instructions : stats.ring0_instructions) +=
      interp.vcpu().counters().retired;
  stats.exceptions += interp.vcpu().counters().exceptions;
  stats.unimplemented_ud += interp.vcpu().counters().unimplemented_ud;
  const densevm::cpu::jit::Stats after = jit.vcpu().translation_stats();
  stats.translated_instructions += after.retired_translated - before.retired_translated;
  stats.translated_blocks += after.blocks_translated - before.blocks_translated;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  if (size > kMaxCode + 1) size = kMaxCode + 1;
  g_input = data;
  g_input_size = size;
  densevm::testing::note_execution();
  run_at(3, data[0], data + 1, size - 1);
  run_at(0, data[0], data + 1, size - 1);
  return 0;
}
