// vCPU speed in guest instructions per second, on small loops run with the soft TLB warm
// (FlatVm's identity mapping): ALU, memory and call-heavy code, and SSE2 integer and
// floating-point loops; each interpreted (/0) and translated (/1, vmm/cpu/jit).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu.h"

namespace {

using densevm::testing::FlatVm;
using densevm::testing::RunOutcome;

constexpr uint64_t kCode = 0x10000000, kData = 0x20000000;

// Runs `loop` (which must keep running) for `insns` instructions per iteration.
void run_loop(benchmark::State& state, const std::vector<uint8_t>& code) {
  FlatVm vm(0);
  std::string error;
  if (state.range(0) == 1 && !vm.vcpu().enable_translation({}, &error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  vm.map(kCode, 0x1000, FlatVm::kRead | FlatVm::kExec);
  vm.map(kData, 0x10000, FlatVm::kRead | FlatVm::kWrite);
  vm.write(kCode, code.data(), code.size());
  vm.set_gpr(7, kData);          // rdi: data
  vm.set_gpr(4, kData + 0x8000);  // rsp: stack
  vm.set_rip(kCode);
  constexpr uint64_t kBatch = 10'000'000;
  uint64_t total = 0;
  for (auto _ : state) {
    const RunOutcome out = vm.run_fast(kBatch);
    if (out.kind != RunOutcome::Kind::kInstructionLimit) {
      state.SkipWithError(("loop stopped: " + out.message).c_str());
      return;
    }
    total += out.instructions;
  }
  state.counters["guest_ips"] = benchmark::Counter(static_cast<double>(total), benchmark::Counter::kIsRate);
}

// l: add rax,rcx; xor rdx,rax; sub rcx,1; and rbx,rdx; inc rsi; jmp l
void BM_AluLoop(benchmark::State& state) {
  run_loop(state, {0x48, 0x01, 0xc8, 0x48, 0x31, 0xc2, 0x48, 0x83, 0xe9, 0x01, 0x48, 0x21,
                   0xd3, 0x48, 0xff, 0xc6, 0xeb, 0xee});
}
BENCHMARK(BM_AluLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// l: mov rax,[rdi]; add rax,rcx; mov [rdi+8],rax; inc rcx; mov rdx,[rdi+8]; jmp l
void BM_MemoryLoop(benchmark::State& state) {
  run_loop(state, {0x48, 0x8b, 0x07, 0x48, 0x01, 0xc8, 0x48, 0x89, 0x47, 0x08, 0x48, 0xff,
                   0xc1, 0x48, 0x8b, 0x57, 0x08, 0xeb, 0xed});
}
BENCHMARK(BM_MemoryLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// l: call f; jmp l; f: inc rax; ret
void BM_CallLoop(benchmark::State& state) {
  run_loop(state, {0xe8, 0x02, 0x00, 0x00, 0x00, 0xeb, 0xf9, 0x48, 0xff, 0xc0, 0xc3});
}
BENCHMARK(BM_CallLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The inner loop of glibc's SSE2 string functions:
// l: movdqa xmm1,[rdi]; pcmpeqb xmm1,xmm0; pminub xmm1,xmm2; pmovmskb eax,xmm1; test eax,eax; jmp l
void BM_Sse2ScanLoop(benchmark::State& state) {
  run_loop(state, {0x66, 0x0f, 0x6f, 0x0f, 0x66, 0x0f, 0x74, 0xc8, 0x66, 0x0f, 0xda, 0xca, 0x66,
                   0x0f, 0xd7, 0xc1, 0x85, 0xc0, 0xeb, 0xec});
}
BENCHMARK(BM_Sse2ScanLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Scalar double arithmetic, each under the guest's MXCSR: l: mulsd xmm0,xmm1; addsd xmm0,xmm2; jmp l
void BM_SseFloatLoop(benchmark::State& state) {
  run_loop(state, {0xf2, 0x0f, 0x59, 0xc1, 0xf2, 0x0f, 0x58, 0xc2, 0xeb, 0xf6});
}
BENCHMARK(BM_SseFloatLoop)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
