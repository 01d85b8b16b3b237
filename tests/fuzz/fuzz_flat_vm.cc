// libFuzzer-style target: arbitrary bytes as guest code, run in FlatVm at CPL 3 and CPL 0.
//
// The vCPU must never crash the host and must always end with a well-formed RunOutcome;
// anything else aborts, which is how a fuzzer recognises a finding.
//
//   LLVMFuzzerTestOneInput(bytes, size);  // returns 0 or aborts with a message
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tests/support/flat_vm.h"

namespace {

using densevm::testing::FlatVm;
using densevm::testing::RunOutcome;

constexpr uint64_t kCodeBase = 0x20000000, kCodeSize = 0x10000;
constexpr uint64_t kDataBase = 0x10000000, kDataSize = 0x10000;
constexpr uint64_t kMaxInstructions = 10000;
constexpr size_t kMaxCode = 4096;

const uint8_t* g_input = nullptr;
size_t g_input_size = 0;

[[noreturn]] void fail(const char* what, unsigned cpl, const RunOutcome& out) {
  std::fprintf(stderr, "fuzz_flat_vm: %s at CPL %u (kind %d vector %u instructions %llu: %s)\n",
               what, cpl, static_cast<int>(out.kind), out.vector,
               static_cast<unsigned long long>(out.instructions), out.message.c_str());
  std::fprintf(stderr, "input (%zu bytes):", g_input_size);
  for (size_t i = 0; i < g_input_size; ++i) std::fprintf(stderr, " %02x", g_input[i]);
  std::fprintf(stderr, "\n");
  std::abort();
}

void run_at(unsigned cpl, const uint8_t* data, size_t size) {
  FlatVm vm(cpl);
  vm.map(kCodeBase, kCodeSize, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
  vm.map(kDataBase, kDataSize, FlatVm::kRead | FlatVm::kWrite);
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
  const RunOutcome out = vm.run_until(kCodeBase + size, kMaxInstructions);
  switch (out.kind) {
    case RunOutcome::Kind::kReachedStop:
      if (vm.rip() != kCodeBase + size) fail("reached stop at another rip", cpl, out);
      break;
    case RunOutcome::Kind::kException:  // any vector: int n reports n
      if (out.vector == 14 && out.error_code > 0xFFFF) fail("#PF error code out of range", cpl, out);
      break;
    case RunOutcome::Kind::kStopped:
      if (out.message.empty()) fail("stopped without a message", cpl, out);
      break;
    case RunOutcome::Kind::kInstructionLimit:
      break;
    default:
      fail("invalid outcome kind", cpl, out);
  }
  if (out.instructions > kMaxInstructions) fail("ran past the instruction limit", cpl, out);
  if (!(vm.rflags() & 0x2)) fail("rflags bit 1 clear", cpl, out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (size > kMaxCode) size = kMaxCode;
  g_input = data;
  g_input_size = size;
  run_at(3, data, size);
  run_at(0, data, size);
  return 0;
}
