#include "tests/fuzz/skipping_kernel.h"

#include <cstring>

namespace densevm::testing {
namespace {

void put64(std::vector<uint8_t>& bytes, uint64_t at, uint64_t value) {
  std::memcpy(bytes.data() + at, &value, 8);
}

// Vectors whose delivery pushes an error code (SDM Vol 3A Table 6-1).
bool has_error_code(unsigned vector) {
  switch (vector) {
    case 8: case 10: case 11: case 12: case 13: case 14: case 17: case 21: case 29: case 30:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::vector<uint8_t> SkippingKernel::pages() const {
  std::vector<uint8_t> bytes(kPages * 0x1000, 0xcc);
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t target = handler(v);
    const unsigned dpl = v == 3 ? 3 : 0;  // INT3 from ring 3, as kernels allow; INT n is #GP
    const unsigned ist = v == 8 ? 1 : 0;
    put64(bytes, 16 * v,
          (target & 0xffff) | uint64_t{kKernelCode} << 16 | uint64_t{ist} << 32 |
              uint64_t{0xe} << 40 | uint64_t{dpl} << 45 | uint64_t{1} << 47 |
              ((target >> 16) & 0xffff) << 48);
    put64(bytes, 16 * v + 8, target >> 32);
    // add rsp, 8 (the error code); inc qword [rsp] (the saved RIP); iretq
    static constexpr uint8_t kDropError[] = {0x48, 0x83, 0xc4, 0x08};
    static constexpr uint8_t kSkip[] = {0x48, 0xff, 0x04, 0x24, 0x48, 0xcf};
    uint8_t* code = bytes.data() + (target - base);
    if (has_error_code(v)) {
      std::memcpy(code, kDropError, sizeof kDropError);
      code += sizeof kDropError;
    }
    std::memcpy(code, kSkip, sizeof kSkip);
  }
  static constexpr uint8_t kSysret[] = {0x48, 0x0f, 0x07};  // to the instruction after SYSCALL
  std::memcpy(bytes.data() + (syscall_entry() - base), kSysret, sizeof kSysret);

  const uint64_t t = tss();
  const uint64_t gdt_entries[8] = {0,
                                   0x00af9a000000ffff,  // 0x08 kernel code, L
                                   0x00cf92000000ffff,  // 0x10 kernel data
                                   0,                   // 0x18: SYSRET's 32-bit slot
                                   0x00cff2000000ffff,  // 0x23 user data
                                   0x00affa000000ffff,  // 0x2b user code, L
                                   0x67 | (t & 0xffffff) << 16 | uint64_t{0x8b} << 40 |
                                       ((t >> 24) & 0xff) << 56,  // 0x30 busy 64-bit TSS
                                   t >> 32};
  std::memcpy(bytes.data() + 0x1000, gdt_entries, sizeof gdt_entries);
  std::memset(bytes.data() + 0x1100, 0, 0x68);
  put64(bytes, 0x1100 + 4, stack_top);      // RSP0
  put64(bytes, 0x1100 + 0x24, df_stack_top);  // IST1
  const uint16_t no_io_bitmap = 0x68;       // at the TSS limit: ring 3 gets no port
  std::memcpy(bytes.data() + 0x1100 + 0x66, &no_io_bitmap, 2);
  return bytes;
}

void SkippingKernel::enter(cpu::Vcpu& v, unsigned cpl) const {
  cpu::CpuState& s = v.state();
  s.gdtr = {gdt(), 8 * 8 - 1};
  s.idtr = {idt(), 256 * 16 - 1};
  s.tr = kTss;
  s.tss_base = tss();
  s.tss_limit = 0x67;
  s.star = (uint64_t{0x18} << 48) | (uint64_t{kKernelCode} << 32);
  s.lstar = syscall_entry();
  s.fmask = cpu::kFlagIf | cpu::kFlagTf | cpu::kFlagDf | cpu::kFlagAc | cpu::kFlagNt;
  s.efer |= cpu::kEferSce;
  s.cs = cpl == 3 ? kUserCode : kKernelCode;
  s.ss = cpl == 3 ? kUserData : kKernelData;
  s.cpl = static_cast<uint8_t>(cpl);
  v.set_cpl(s.cpl);
  v.set_deliver_exceptions(true);
}

SkippingRun run_skipping(cpu::Vcpu& v, uint64_t stop_rip, uint64_t max_instructions) {
  SkippingRun out;
  const uint64_t exceptions_before = v.counters().exceptions;
  const uint64_t unimplemented_before = v.counters().unimplemented_ud;
  auto finish = [&](SkippingRun::End end) {
    out.end = end;
    out.exceptions = v.counters().exceptions - exceptions_before;
    out.unimplemented = v.counters().unimplemented_ud - unimplemented_before;
    return out;
  };
  while (out.ring3 + out.ring0 < max_instructions) {
    if (v.state().rip == stop_rip) return finish(SkippingRun::End::kReachedStop);
    const unsigned cpl = v.state().cpl;
    const uint64_t exceptions = v.counters().exceptions;
    const cpu::RunResult r = v.run(1);
    // A fault is delivered inside run(): the one instruction retired after it is a handler's.
    const bool in_handler = v.counters().exceptions != exceptions;
    (cpl == 3 && !in_handler ? out.ring3 : out.ring0) += r.retired;
    switch (r.reason) {
      case cpu::StopReason::kBudget:
      case cpu::StopReason::kPaused:
        break;
      case cpu::StopReason::kHalted:
        return finish(SkippingRun::End::kHalted);
      case cpu::StopReason::kStopped:
      case cpu::StopReason::kExit:
      case cpu::StopReason::kException:  // not with exceptions delivered: reported as a stop
        out.message = r.reason == cpu::StopReason::kStopped ? v.stop_message() : "unexpected end";
        out.stop_cpl = v.state().cpl;
        return finish(SkippingRun::End::kStopped);
    }
  }
  return finish(SkippingRun::End::kLimit);
}

}  // namespace densevm::testing
