// Fuzz target (LLVMFuzzerTestOneInput): arbitrary bytes as guest code in a FlatVm, run at
// CPL 3 and at CPL 0 under the SkippingKernel, so the code keeps running through its faults
// (each resumes one byte on) until it reaches its end or the instruction budget.
//
// Findings abort: the host crashing, a sanitizer report, a VM stop while the code runs at
// CPL 3 (ring 3 must never stop its VM), a CPL-0 run stopping for anything but a triple
// fault (or a delivery loop no instruction retires in), a hang, or a broken invariant
// (RFLAGS bit 1, the budget).
//
//   LLVMFuzzerTestOneInput(bytes, size);  // returns 0 or aborts with a message
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/fuzz/fuzz_stats.h"
#include "tests/fuzz/skipping_kernel.h"
#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace {

using densevm::testing::FlatVm;
using densevm::testing::fuzz_stats;
using densevm::testing::SkippingKernel;
using densevm::testing::SkippingRun;

constexpr uint64_t kCodeBase = 0x20000000, kCodeSize = 0x10000;
constexpr uint64_t kDataBase = 0x10000000, kDataSize = 0x10000;
constexpr uint64_t kKernelBase = 0x30000000, kKernelStack = 0x31000000;
constexpr uint64_t kMaxInstructions = 2000;
constexpr size_t kMaxCode = 4096;

const SkippingKernel kKernel{.base = kKernelBase,
                             .stack_top = kKernelStack + 0x2000,
                             .df_stack_top = kKernelStack + 0x3000};

const uint8_t* g_input = nullptr;
size_t g_input_size = 0;

[[noreturn]] void fail(const char* what, unsigned cpl, const SkippingRun& run) {
  std::fprintf(stderr, "fuzz_flat_vm: %s at CPL %u start (end %d, stop CPL %u, %llu+%llu "
               "instructions: %s)\n", what, cpl, static_cast<int>(run.end), run.stop_cpl,
               static_cast<unsigned long long>(run.ring3),
               static_cast<unsigned long long>(run.ring0), run.message.c_str());
  std::fprintf(stderr, "input (%zu bytes):", g_input_size);
  for (size_t i = 0; i < g_input_size; ++i) std::fprintf(stderr, " %02x", g_input[i]);
  std::fprintf(stderr, "\n");
  std::abort();
}

// One VM per CPL (0 or 3: [cpl & 1]), made once and reset() before each input, which starts
// it as new (state, memory, soft TLB, decoded code): the same input runs the same way
// whatever ran before it.
FlatVm& machine(unsigned cpl) {
  static FlatVm vms[2] = {FlatVm(0), FlatVm(3)};
  return vms[cpl & 1];
}

void run_at(unsigned cpl, const uint8_t* data, size_t size) {
  FlatVm& vm = machine(cpl);
  vm.reset();
  vm.map(kCodeBase, kCodeSize, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
  vm.map(kDataBase, kDataSize, FlatVm::kRead | FlatVm::kWrite);
  // The kernel's tables and handlers read-only: nothing the code does can change them.
  vm.map(kKernelBase, 0x2000, FlatVm::kRead);
  vm.map(kKernelBase + 0x2000, 0x1000, FlatVm::kRead | FlatVm::kExec);
  vm.map(kKernelStack, 0x3000, FlatVm::kRead | FlatVm::kWrite);
  static const std::vector<uint8_t> kernel_pages = kKernel.pages();
  vm.write(kKernelBase, kernel_pages.data(), kernel_pages.size());
  vm.write(kCodeBase, data, size);
  // Registers point into the data region more often than not, so memory operands reach
  // mapped memory; the rest are taken from the input itself.
  for (unsigned i = 0; i < 16; ++i) {
    uint64_t v = 0;
    std::memcpy(&v, data + (i * 8) % size, size - (i * 8) % size < 8 ? size - (i * 8) % size : 8);
    vm.set_gpr(i, i % 3 == 2 ? v : kDataBase + 0x8000 + (v & 0x3FF8));
  }
  vm.set_gpr(4, kDataBase + 0xF000);
  vm.set_rflags(0x202 | (data[0] & 0xD5u));
  vm.set_rip(kCodeBase);
  densevm::cpu::Vcpu& v = vm.vcpu();
  kKernel.enter(v, cpl);

  const SkippingRun run = densevm::testing::run_skipping(v, kCodeBase + size, kMaxInstructions);
  auto& stats = fuzz_stats();
  stats.ring3_instructions += run.ring3;
  stats.ring0_instructions += run.ring0;
  stats.exceptions += run.exceptions;
  stats.unimplemented_ud += run.unimplemented;
  if (run.end == SkippingRun::End::kStopped) {
    if (cpl == 3) {
      ++stats.ring3_stops;
      fail("the VM stopped from ring 3", cpl, run);
    }
    ++stats.ring0_stops;
    if (run.message.rfind("triple fault", 0) != 0 &&
        run.message.rfind("exception delivery makes no progress", 0) != 0) {
      fail("a stop that is no triple fault", cpl, run);
    }
  }
  if (run.end == SkippingRun::End::kHalted && cpl == 3 && v.state().cpl == 3) {
    fail("halted in ring 3", cpl, run);
  }
  if (run.ring3 + run.ring0 > kMaxInstructions) fail("ran past the instruction limit", cpl, run);
  if (!(vm.rflags() & 0x2)) fail("rflags bit 1 clear", cpl, run);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (size > kMaxCode) size = kMaxCode;
  g_input = data;
  g_input_size = size;
  densevm::testing::note_execution();
  run_at(3, data, size);
  run_at(0, data, size);
  return 0;
}
