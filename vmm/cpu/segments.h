// Segment descriptors and the selector checks of the instructions that load segments
// (MOV Sreg, LTR, LLDT, IRETQ, far JMP/CALL/RET).
//
// In 64-bit mode segmentation is mostly gone, but a guest still loads selectors and the
// CPU still checks them against the GDT or LDT (SDM Vol 3A §3.4.5, §5.8): that is what keeps
// ring 3 from returning into ring 0. Compatibility mode is not modelled: a transfer into a
// code segment with L=0 is refused with #GP(selector), as for a descriptor the CPU cannot
// use (the guest kernel sees a protection fault, never a stopped VM).
//
//   SegmentDescriptor cs;
//   if (!read_segment(v, selector, cs)) return Exec::kFault;
//   if (!cs.code() || !cs.long_mode()) return selector_fault(v, kVecGp, selector);
#pragma once

#include <cstdint>

#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

// One 8-byte GDT entry; `high` is the upper half of a 16-byte system descriptor (TSS).
struct SegmentDescriptor {
  uint64_t low = 0, high = 0;

  [[nodiscard]] unsigned type() const { return (low >> 40) & 0xf; }
  [[nodiscard]] bool code_or_data() const { return (low >> 44) & 1; }  // S; 0 = system
  [[nodiscard]] unsigned dpl() const { return (low >> 45) & 3; }
  [[nodiscard]] bool present() const { return (low >> 47) & 1; }
  [[nodiscard]] bool long_mode() const { return (low >> 53) & 1; }  // L: 64-bit code
  [[nodiscard]] bool default_big() const { return (low >> 54) & 1; }  // D/B
  // 64-bit code that can run here: L=1 and D=0 (L and D both set is reserved).
  [[nodiscard]] bool code64() const { return code() && long_mode() && !default_big(); }
  [[nodiscard]] bool code() const { return code_or_data() && (type() & 8); }
  [[nodiscard]] bool data() const { return code_or_data() && !(type() & 8); }
  [[nodiscard]] bool conforming() const { return code() && (type() & 4); }
  [[nodiscard]] bool readable() const { return data() || (type() & 2); }  // code: R bit
  [[nodiscard]] bool writable_data() const { return data() && (type() & 2); }
  // Limit in bytes, scaled by G (SDM Vol 3A §3.4.5).
  [[nodiscard]] uint32_t limit() const {
    const auto raw = static_cast<uint32_t>((low & 0xffff) | ((low >> 32) & 0xf0000));
    return (low >> 55) & 1 ? (raw << 12) | 0xfff : raw;
  }
  // The type field of a 16-byte system descriptor's upper half, which must be 0.
  [[nodiscard]] unsigned upper_type() const { return (high >> 40) & 0x1f; }
  // Base of a 16-byte system descriptor (SDM Vol 3A §8.2.3, Figure 8-4).
  [[nodiscard]] uint64_t system_base() const {
    return ((low >> 16) & 0xffffff) | (((low >> 56) & 0xff) << 24) | ((high & 0xffffffff) << 32);
  }
};

inline constexpr unsigned kTypeLdt = 2;
inline constexpr unsigned kTypeTss64Available = 9;
inline constexpr unsigned kTypeTss64Busy = 11;
inline constexpr unsigned kTypeCallGate64 = 12;

[[nodiscard]] inline unsigned selector_rpl(uint16_t selector) { return selector & 3; }
[[nodiscard]] inline bool selector_null(uint16_t selector) { return (selector & 0xfffc) == 0; }

// Raises `vector` with the selector as error code (index and TI; RPL reads as 0).
inline Exec selector_fault(Vcpu& v, uint8_t vector, uint16_t selector) {
  return v.raise(vector, selector & 0xfffcu);
}

// Reads a selector's descriptor. False with an exception pending: #GP(selector) for one
// beyond its table's limit (or an LDT selector with no LDT), or the page fault of the read.
[[nodiscard]] inline bool read_segment(Vcpu& v, uint16_t selector, SegmentDescriptor& d) {
  if (v.read_descriptor(selector, d.low, d.high)) return true;
  selector_fault(v, kVecGp, selector);  // keeps a pending page fault, which came first
  return false;
}

// SS for a stack at `cpl` (SDM Vol 2B MOV, Vol 2A IRET): null only below ring 3, else
// RPL = DPL = cpl and a writable data segment; not present is #SS(selector).
[[nodiscard]] inline Exec check_stack_segment(Vcpu& v, uint16_t selector, unsigned cpl) {
  if (selector_rpl(selector) != cpl) return selector_fault(v, kVecGp, selector);
  if (selector_null(selector)) return cpl == 3 ? v.raise_gp0() : Exec::kNext;
  SegmentDescriptor d;
  if (!read_segment(v, selector, d)) return Exec::kFault;
  if (!d.writable_data() || d.dpl() != cpl) return selector_fault(v, kVecGp, selector);
  if (!d.present()) return selector_fault(v, kVecSs, selector);
  return Exec::kNext;
}

// DS, ES, FS, GS (SDM Vol 2B MOV): null is fine; else a readable segment that data access
// at CPL and RPL may use (DPL >= both unless conforming code); not present is #NP.
[[nodiscard]] inline Exec check_data_segment(Vcpu& v, uint16_t selector) {
  if (selector_null(selector)) return Exec::kNext;
  SegmentDescriptor d;
  if (!read_segment(v, selector, d)) return Exec::kFault;
  if (!d.code_or_data() || !d.readable()) return selector_fault(v, kVecGp, selector);
  const unsigned cpl = v.state().cpl;
  if (!d.conforming() && (d.dpl() < cpl || d.dpl() < selector_rpl(selector))) {
    return selector_fault(v, kVecGp, selector);
  }
  if (!d.present()) return selector_fault(v, kVecNp, selector);
  return Exec::kNext;
}

// CS for a return (IRETQ, far RET) to privilege RPL: a present code segment, DPL = RPL
// (conforming: DPL <= RPL). Compatibility mode (L=0) is not modelled: #GP(selector).
[[nodiscard]] inline Exec check_return_code_segment(Vcpu& v, uint16_t selector) {
  if (selector_null(selector)) return v.raise_gp0();
  SegmentDescriptor d;
  if (!read_segment(v, selector, d)) return Exec::kFault;
  const unsigned rpl = selector_rpl(selector);
  if (!d.code()) return selector_fault(v, kVecGp, selector);
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) return selector_fault(v, kVecGp, selector);
  if (!d.present()) return selector_fault(v, kVecNp, selector);
  if (!d.code64()) return selector_fault(v, kVecGp, selector);
  return Exec::kNext;
}

static_assert(sizeof(SegmentDescriptor) == 16, "a long-mode system descriptor is 16 bytes");

}  // namespace densevm::cpu
