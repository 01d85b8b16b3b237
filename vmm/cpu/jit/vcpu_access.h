// VcpuAccess: what translated code may touch of a Vcpu, and the C++ it calls.
//
// Translated code addresses the vCPU's state as offsets from the Vcpu (Layout), and calls
// back into these functions for what it does not do inline: an instruction through its
// interpreter handler, a memory access that misses the soft TLB, a condition or carry from
// lazy flags it cannot see statically, an exception. Each sets up the state the interpreter's
// run loop would have (retired count, RIP, the instruction's RIP, stack access) first, so the
// handlers and the MMU see no difference.
//
//   const VcpuAccess::Layout& l = VcpuAccess::layout(vcpu);
//   a.mov(x86::rax, x86::qword_ptr(x86::rbx, l.gpr + 8 * kRcx));   // guest RCX
#pragma once

#include <cstdint>

#include "vmm/cpu/vcpu.h"

namespace densevm::cpu::jit {

// What a memory slow path was asked (packed in 32 bits): size, SS-relative, and where the
// instruction is in its page.
struct MemSite {
  static constexpr uint32_t pack(unsigned size, bool stack, unsigned offset, unsigned length) {
    return size | (uint32_t{stack} << 8) | (length << 12) | (offset << 16);
  }
  static constexpr unsigned size(uint64_t site) { return site & 0xff; }
  static constexpr bool stack(uint64_t site) { return (site >> 8) & 1; }
  static constexpr unsigned length(uint64_t site) { return (site >> 12) & 0xf; }
  static constexpr unsigned offset(uint64_t site) { return (site >> 16) & 0xfff; }
};

struct LoadResult {
  uint64_t value;
  uint64_t ok;  // 0: an exception (or stop) is pending, RIP is back at the instruction
};

struct NextBlock {
  const uint8_t* code;  // nullptr: return to the run loop
  uint64_t page_va;
};

struct VcpuAccess {
  struct Layout {
    int32_t gpr = 0, rip = 0, rflags = 0, fs_base = 0, gs_base = 0;
    int32_t lazy_op = 0, lazy_carry = 0, lazy_a = 0, lazy_b = 0, lazy_res = 0;
    int32_t retired = 0, insn_rip = 0, break_inner = 0, tlb_view = 0, tlb_gpa_view = 0;
    int32_t irq_pending = 0, jit_dispatch = 0, jit_dispatched = 0;
  };
  // A soft-TLB entry (Vcpu::TlbEntry); the guest-physical page of entry i of the view is
  // element i of the array at tlb_gpa_view.
  static constexpr int32_t kTlbEntryShift = 5, kTlbEntryBytes = 1 << kTlbEntryShift,
                           kTlbReadTag = 0, kTlbWriteTag = 8, kTlbExecTag = 16, kTlbAddend = 24;
  static constexpr unsigned kTlbEntries = 1024;

  // Offsets of the state in every Vcpu (the class's layout, read off `v`).
  static Layout layout(const Vcpu& v);

  // ---- called from translated code (System V ABI) ----

  // Runs one instruction through its handler as the run loop does (Vcpu::step). Returns 0
  // to go on with the next instruction, 1 to leave translated code and go on from RIP, 2 to
  // end the page run (fault, stop, halt); retired count stored either way.
  static uint32_t exec_insn(Vcpu* v, const DecodedInsn* d, uint64_t insn_va, uint64_t retired);
  // The soft TLB missed (or the access crosses a page): the access through Vcpu::read/write.
  static LoadResult load(Vcpu* v, uint64_t va, uint64_t site, uint64_t page_va, uint64_t retired);
  static uint64_t store(Vcpu* v, uint64_t va, uint64_t site, uint64_t page_va, uint64_t retired,
                        uint64_t value);
  // Condition `cc` (flags.h Cond) and CF from the lazy flags.
  static uint64_t condition(Vcpu* v, uint64_t cc);
  static uint64_t carry(Vcpu* v);
  // The translated block to go on with at `target` (RIP), leaving the page at `page_va` or
  // not, when the run loop would go straight there: no interrupt waiting (checked when the
  // page run began; nothing since asked to look again), the target's page executable in
  // the soft TLB, a live block for that guest-physical address. Else code is nullptr.
  static NextBlock next_block(Vcpu* v, uint64_t target, uint64_t page_va);
  // The instruction at `insn_va`, which runs on into the next page (so no block holds it),
  // run as the run loop's step would run it after the block before it: only within
  // `limit` and with no events to look at; then next_block's block after it. code nullptr:
  // leave translated code, page_va 0 to go on from RIP (the run loop steps it), 1 to end
  // the page run (a fault, a stop, HLT). The retired count and RIP are stored either way.
  static NextBlock run_crossing(Vcpu* v, uint64_t insn_va, uint64_t page_va, uint64_t retired,
                                uint64_t limit);
  // Raises #GP(0) at the instruction at `insn_va`, which does not retire (a jump to a
  // non-canonical address).
  static void raise_gp0(Vcpu* v, uint64_t insn_va, uint64_t retired);

 private:
  static void enter_site(Vcpu* v, uint64_t site, uint64_t page_va, uint64_t retired);
};

}  // namespace densevm::cpu::jit
