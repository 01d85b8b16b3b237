// Exceptions and interrupts: delivery through the 64-bit IDT, the double-fault rules, and
// the GDT reads they need (SDM Vol 3A ch. 6).
#include <cstring>
#include <string>

#include "vmm/cpu/vcpu.h"
#include "vmm/internal/hex.h"

namespace densevm::cpu {
namespace {

// Exception classes of SDM Vol 3A §6.15, Table 6-4.
enum class ExceptionClass : uint8_t { kBenign, kContributory, kPageFault, kDoubleFault };

ExceptionClass exception_class(uint8_t vector) {
  switch (vector) {
    case kVecDe: case kVecTs: case kVecNp: case kVecSs: case kVecGp:
      return ExceptionClass::kContributory;
    case kVecPf: return ExceptionClass::kPageFault;
    case kVecDf: return ExceptionClass::kDoubleFault;
    default: return ExceptionClass::kBenign;
  }
}

bool double_fault_follows(uint8_t first, uint8_t second) {
  const ExceptionClass a = exception_class(first), b = exception_class(second);
  const bool serious = b == ExceptionClass::kContributory || b == ExceptionClass::kPageFault;
  if (a == ExceptionClass::kContributory) return b == ExceptionClass::kContributory;
  return a == ExceptionClass::kPageFault && serious;
}

}  // namespace

bool Vcpu::exception_has_error(uint8_t vector) const {
  switch (vector) {
    case kVecDf: case kVecTs: case kVecNp: case kVecSs: case kVecGp: case kVecPf: case 17:
      return true;
    default:
      return false;
  }
}

void Vcpu::deliver_pending_exception() {
  PendingException e = pending_;
  pending_.valid = false;
  ++counters_.exceptions;
  const uint8_t first = e.vector;
  // SDM Vol 3A §6.15, Table 6-5: a fault raised while delivering an exception is delivered
  // in its place (handled serially), or becomes #DF when both are contributory or the first
  // was #PF; a fault while delivering #DF shuts the processor down. Delivery only raises
  // contributory faults or #PF, so each round moves up a class and the loop ends.
  while (true) {
    last_exception_ = e;
    if (deliver(e.vector, e.has_error, e.error_code)) return;
    const PendingException nested = pending_;
    pending_.valid = false;
    if (!nested.valid) return;  // the delivery stopped the VM
    if (e.vector == kVecDf) {
      stop("triple fault: vector " + std::to_string(first) + " at RIP " + hex(s_.rip) +
           " could not be delivered, nor #DF (vector " + std::to_string(nested.vector) + ")");
      return;
    }
    e = double_fault_follows(e.vector, nested.vector) ? PendingException{true, kVecDf, true, 0}
                                                      : nested;
  }
}

Exec Vcpu::software_interrupt(uint8_t vector) {
  if (!deliver_exceptions_) return raise(vector);  // tests: reported at the instruction
  return deliver(vector, false, 0, true) ? Exec::kJump : Exec::kFault;
}

bool Vcpu::read_descriptor(uint16_t selector, uint64_t& low, uint64_t& high) {
  const uint64_t offset = selector & ~uint64_t{7};
  const bool local = (selector & 4) != 0;
  if (local && (s_.ldtr & 0xfffc) == 0) return false;
  const uint64_t base = local ? s_.ldt_base : s_.gdtr.base;
  const uint64_t limit = local ? s_.ldt_limit : s_.gdtr.limit;
  if (offset + 7 > limit) return false;
  high = 0;
  if (!read_system(base + offset, &low, 8)) return false;
  return offset + 15 > limit || read_system(base + offset + 8, &high, 8);
}

// Descriptor-table and TSS reads are supervisor accesses whatever the CPL (SDM Vol 3A §6.12.1,
// §5.5), and never SS-relative, whatever the instruction is doing with the stack.
bool Vcpu::read_system(uint64_t va, void* out, unsigned size) {
  const bool saved_override = supervisor_override_, saved_stack = stack_access_;
  supervisor_override_ = true;
  stack_access_ = false;
  update_tlb_view();
  bool ok;
  if (size == 2 || size == 8) {  // descriptors, TSS fields: through the soft TLB
    uint64_t value;
    ok = read_sized(va, size, value);
    if (ok) std::memcpy(out, &value, size);
  } else {
    ok = read_bytes(va, out, size);
  }
  supervisor_override_ = saved_override;
  stack_access_ = saved_stack;
  update_tlb_view();
  return ok;
}

bool Vcpu::write_supervisor_stack(uint64_t va, const void* in, unsigned size) {
  const bool saved_override = supervisor_override_;
  supervisor_override_ = true;
  stack_access_ = true;
  update_tlb_view();
  const bool ok = write_bytes(va, in, size);
  supervisor_override_ = saved_override;
  update_tlb_view();
  return ok;
}

void Vcpu::set_cpl(uint8_t cpl) {
  s_.cpl = cpl;
  update_tlb_view();
  break_inner_ = true;
}

// Long-mode event delivery, SDM Vol 3A §6.14.2-6.14.5: 16-byte gates, stack switch through
// the TSS on a privilege change or IST, an always-64-bit frame SS:RSP, RFLAGS, CS:RIP
// [, error code], aligned to 16 bytes.
bool Vcpu::deliver(uint8_t vector, bool has_error, uint32_t error_code, bool software) {
  halted_ = false;
  const uint32_t ext = software ? 0 : 1;  // EXT: the fault arose delivering an external event
  const uint32_t idt_error = vector * 8u + 2u + ext;  // IDT flag set: the gate itself is bad
  if (vector * 16u + 15u > s_.idtr.limit) {
    raise(kVecGp, idt_error);
    return false;
  }
  const bool saved_override = supervisor_override_;
  supervisor_override_ = true;
  update_tlb_view();
  auto fail = [&](uint8_t vec, uint32_t err) {
    raise(vec, err);
    supervisor_override_ = saved_override;
    update_tlb_view();
    return false;
  };
  auto leave = [&] {
    supervisor_override_ = saved_override;
    update_tlb_view();
    return false;
  };

  uint64_t gate_lo, gate_hi;
  if (!read<8>(s_.idtr.base + vector * 16u, gate_lo) ||
      !read<8>(s_.idtr.base + vector * 16u + 8, gate_hi)) {
    return leave();
  }
  const unsigned type = (gate_lo >> 40) & 0xf;
  if (type != 0xe && type != 0xf) return fail(kVecGp, idt_error);
  if (software && ((gate_lo >> 45) & 3) < s_.cpl) return fail(kVecGp, idt_error);
  if (!((gate_lo >> 47) & 1)) return fail(kVecNp, idt_error);
  const uint16_t selector = static_cast<uint16_t>(gate_lo >> 16);
  const unsigned ist = (gate_lo >> 32) & 7;
  const uint64_t target = (gate_lo & 0xffff) | ((gate_lo >> 32) & 0xffff0000) |
                          ((gate_hi & 0xffffffff) << 32);

  uint64_t cs_lo, cs_hi;
  if (!read_descriptor(selector, cs_lo, cs_hi)) {
    if (pending_.valid) return leave();
    return fail(kVecGp, (selector & 0xfffc) | ext);
  }
  const bool code = ((cs_lo >> 43) & 3) == 3;  // S=1 and executable: not a system descriptor
  const bool present = (cs_lo >> 47) & 1, long_mode = (cs_lo >> 53) & 1;
  const uint32_t selector_error = (selector & 0xfffc) | ext;
  if (!code || !long_mode || (selector & 0xfffc) == 0) return fail(kVecGp, selector_error);
  if (!present) return fail(kVecNp, selector_error);
  const uint8_t new_cpl = static_cast<uint8_t>((cs_lo >> 45) & 3);
  if (new_cpl > s_.cpl) return fail(kVecGp, selector_error);

  uint64_t rsp = s_.gpr[kRsp];
  stack_access_ = true;
  if (new_cpl < s_.cpl && !read<8>(s_.tss_base + 4 + 8 * new_cpl, rsp)) return leave();
  if (ist != 0 && !read<8>(s_.tss_base + 0x24 + 8 * (ist - 1), rsp)) return leave();
  rsp &= ~uint64_t{0xf};
  if (!is_canonical(rsp - 1) || !is_canonical(rsp - 48)) return fail(kVecSs, ext);

  const uint64_t frame[6] = {has_error ? error_code : 0, s_.rip, s_.cs, rflags(),
                             s_.gpr[kRsp], s_.ss};
  const unsigned words = has_error ? 6 : 5;
  const uint64_t* first = has_error ? frame : frame + 1;
  const uint64_t new_rsp = rsp - 8 * words;
  if (!write_bytes(new_rsp, first, 8 * words)) return leave();

  const uint64_t flags = rflags();
  s_.gpr[kRsp] = new_rsp;
  if (new_cpl != s_.cpl) s_.ss = new_cpl;
  s_.cs = static_cast<uint16_t>((selector & 0xfffc) | new_cpl);
  s_.rip = target;
  uint64_t cleared = kFlagTf | kFlagNt | kFlagRf;
  if (type == 0xe) cleared |= kFlagIf;
  set_rflags(flags & ~cleared);
  supervisor_override_ = saved_override;
  set_cpl(new_cpl);
  return true;
}


}  // namespace densevm::cpu
