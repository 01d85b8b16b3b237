// SkippingKernel: the smallest 64-bit kernel that keeps random code running through its
// faults, for the fuzz targets. Every IDT vector leads to a ring-0 handler that drops the
// error code (if the vector has one), adds 1 to the saved RIP and returns with IRETQ; SYSCALL
// lands on a SYSRETQ. So a fault, a trap, INT n or SYSCALL resumes one byte past where it
// struck: random bytes are a fresh instruction stream from there on, and every fault goes
// through real delivery (IDT, TSS stack switch, #DF on IST1) and a real IRETQ.
//
// Three pages at `base`: the IDT; the GDT (kernel and user code and data, a 64-bit TSS) with
// the TSS at +0x100; the handlers. They must be mapped read-only (the handler page
// executable) so the code under test cannot change them; the kernel stack and the #DF stack
// are given separately and must be writable.
//
//   SkippingKernel k{.base = 0x30000000, .stack_top = 0x31002000, .df_stack_top = 0x31003000};
//   write(k.base, k.pages());  k.enter(vcpu, 3);
//   SkippingRun r = run_skipping(vcpu, code_end, 5000);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "vmm/cpu/vcpu.h"

namespace densevm::testing {

struct SkippingKernel {
  static constexpr uint64_t kPages = 3;
  static constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kUserData = 0x23,
                            kUserCode = 0x2b, kTss = 0x30;

  uint64_t base = 0;
  uint64_t stack_top = 0;     // RSP0: where ring-3 faults are delivered
  uint64_t df_stack_top = 0;  // IST1: #DF, whatever RSP was

  [[nodiscard]] uint64_t idt() const { return base; }
  [[nodiscard]] uint64_t gdt() const { return base + 0x1000; }
  [[nodiscard]] uint64_t tss() const { return base + 0x1100; }
  [[nodiscard]] uint64_t handler(unsigned vector) const { return base + 0x2000 + 16 * vector; }
  [[nodiscard]] uint64_t syscall_entry() const { return base + 0x3000 - 16; }

  // The bytes of the three pages.
  [[nodiscard]] std::vector<uint8_t> pages() const;
  // Points the vCPU at them (GDTR, IDTR, TR, SYSCALL MSRs), delivering exceptions, at `cpl`
  // with the matching CS and SS. Paging and RIP/RSP are the caller's.
  void enter(cpu::Vcpu& v, unsigned cpl) const;
};

// How a run under the SkippingKernel ended, and what it retired at each CPL (an instruction
// counts at the CPL it ran at: a handler's at 0).
struct SkippingRun {
  enum class End : uint8_t { kReachedStop, kLimit, kHalted, kStopped };
  End end = End::kLimit;
  std::string message;         // kStopped: the vCPU's reason
  unsigned stop_cpl = 0;       // kStopped: the CPL when it stopped
  uint64_t ring3 = 0, ring0 = 0;
  uint64_t exceptions = 0;     // delivered
  uint64_t unimplemented = 0;  // #UD for instructions the vCPU lacks
};

// Runs one instruction at a time until RIP reaches `stop_rip`, max_instructions retire, the
// vCPU halts (ring 0 only: HLT) or stops.
[[nodiscard]] SkippingRun run_skipping(cpu::Vcpu& v, uint64_t stop_rip, uint64_t max_instructions);

}  // namespace densevm::testing
