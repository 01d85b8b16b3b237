#include "vmm/cpu/vcpu.h"

#include <algorithm>
#include <cstdio>

#include "vmm/cpu/decoder.h"

namespace densevm::cpu {
namespace {

bool is_canonical(uint64_t va) {
  return static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) == va;
}

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

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

Vcpu::Vcpu(Mmu& mmu, DeviceBus& bus, PageTracking& tracking, WriteTracker* tracker)
    : mmu_(mmu), bus_(bus), tracking_(tracking), tracker_(tracker) {}

uint64_t Vcpu::rflags() const {
  if (lazy_.op == FlagOp::kNone) return s_.rflags;
  return (s_.rflags & ~kFlagsArith) | lazy_.compute();
}

void Vcpu::set_rflags(uint64_t value) {
  s_.rflags = (value & kFlagsWritable) | kFlagFixed1;
  lazy_.op = FlagOp::kNone;
}

void Vcpu::set_arith_flags(uint64_t mask, uint64_t bits) {
  const uint64_t f = rflags();
  s_.rflags = (f & ~mask) | (bits & mask);
  lazy_.op = FlagOp::kNone;
}

uint64_t Vcpu::reg_sized(uint8_t r, unsigned size) const {
  switch (size) {
    case 1: return reg<1>(r);
    case 2: return reg<2>(r);
    case 4: return reg<4>(r);
    default: return reg<8>(r);
  }
}

void Vcpu::set_reg_sized(uint8_t r, unsigned size, uint64_t v) {
  switch (size) {
    case 1: set_reg<1>(r, v); break;
    case 2: set_reg<2>(r, v); break;
    case 4: set_reg<4>(r, v); break;
    default: set_reg<8>(r, v); break;
  }
}

bool Vcpu::read_sized(uint64_t va, unsigned size, uint64_t& out) {
  switch (size) {
    case 1: return read<1>(va, out);
    case 2: return read<2>(va, out);
    case 4: return read<4>(va, out);
    default: return read<8>(va, out);
  }
}

bool Vcpu::write_sized(uint64_t va, unsigned size, uint64_t v) {
  switch (size) {
    case 1: return write<1>(va, v);
    case 2: return write<2>(va, v);
    case 4: return write<4>(va, v);
    default: return write<8>(va, v);
  }
}

Exec Vcpu::raise(uint8_t vector) {
  if (!pending_.valid) pending_ = {true, vector, false, 0};
  return Exec::kFault;
}

Exec Vcpu::raise(uint8_t vector, uint32_t error_code) {
  if (!pending_.valid) pending_ = {true, vector, true, error_code};
  return Exec::kFault;
}

Exec Vcpu::stop(std::string message) {
  if (!stopped_) stop_message_ = std::move(message);
  stopped_ = true;
  break_inner_ = true;
  return Exec::kStop;
}

PagingContext Vcpu::paging_context() const {
  PagingContext ctx;
  ctx.cr3 = s_.cr3;
  ctx.user = tlb_user_ == 1;
  ctx.wp = (s_.cr0 & kCr0Wp) != 0;
  ctx.nxe = (s_.efer & kEferNxe) != 0;
  ctx.paging = (s_.cr0 & kCr0Pg) != 0;
  return ctx;
}

void Vcpu::flush_tlb() {
  for (auto& view : tlb_) {
    for (auto& e : view) e = TlbEntry{};
  }
  break_inner_ = true;
}

void Vcpu::invalidate_code(Gpa page) {
  if (code_.invalidate(page.page_number())) ++counters_.code_invalidations;
  tracking_.clear(page, PageTracking::kCode);
  break_inner_ = true;
}

bool Vcpu::translate(uint64_t va, Access access, Translation& out) {
  if (!is_canonical(va)) {
    raise(stack_access_ ? kVecSs : kVecGp, 0);
    return false;
  }
  ++counters_.tlb_misses;
  out = mmu_.translate(Gva{va}, access, paging_context());
  switch (out.kind) {
    case Translation::Kind::kPageFault:
      s_.cr2 = va;
      raise(kVecPf, out.error_code);
      return false;
    case Translation::Kind::kFatal:
      stop(out.reason + " (at RIP " + hex(insn_rip_) + ")");
      return false;
    case Translation::Kind::kMmio:
      break_inner_ = true;
      return true;
    case Translation::Kind::kRam:
      break;
  }
  const uint64_t page_va = va & ~kPageMask;
  TlbEntry& e = tlb_entry(va);
  if (e.read_tag != page_va) e = TlbEntry{};
  e.addend = reinterpret_cast<uint64_t>(out.host_page) - page_va;
  e.gpa_page = out.gpa.page_number();
  e.read_tag = page_va;
  // A write entry only after a write walk: the guest dirty bit is set by that walk.
  if (access == Access::kWrite && out.writable && !out.write_tracked &&
      !tracking_.tracked(out.gpa)) {
    e.write_tag = page_va;
  }
  if (access == Access::kExec) e.exec_tag = page_va;
  return true;
}

bool Vcpu::access_slow(uint64_t va, void* data, unsigned size, Access access) {
  const uint64_t off = va & kPageMask;
  const unsigned first = static_cast<unsigned>(std::min<uint64_t>(size, kPageSize - off));
  Translation parts[2];
  if (!translate(va, access, parts[0])) return false;
  if (first < size && !translate(va + first, access, parts[1])) return false;

  auto* bytes = static_cast<uint8_t*>(data);
  for (unsigned i = 0, done = 0; done < size; ++i) {
    const Translation& t = parts[i];
    const unsigned n = i == 0 ? first : size - first;
    const uint64_t page_off = (va + done) & kPageMask;
    if (t.kind == Translation::Kind::kMmio) {
      if (access == Access::kWrite) {
        uint64_t v = 0;
        std::memcpy(&v, bytes + done, n);
        bus_.mmio_write(t.gpa, n, v);
      } else {
        const uint64_t v = bus_.mmio_read(t.gpa, n);
        std::memcpy(bytes + done, &v, n);
      }
    } else if (access == Access::kWrite) {
      std::memcpy(t.host_page + page_off, bytes + done, n);
      if (t.write_tracked || tracking_.tracked(t.gpa)) handle_tracked_write(t.gpa + page_off, n);
    } else {
      std::memcpy(bytes + done, t.host_page + page_off, n);
    }
    done += n;
  }
  return true;
}

uint8_t* Vcpu::page_pointer(uint64_t va, Access access) {
  const TlbEntry& e = tlb_entry(va);
  const uint64_t page_va = va & ~kPageMask;
  const uint64_t tag = access == Access::kWrite ? e.write_tag : e.read_tag;
  if (tag == page_va) return reinterpret_cast<uint8_t*>(page_va + e.addend);
  return nullptr;
}

void Vcpu::handle_tracked_write(Gpa gpa, unsigned size) {
  const uint8_t why = tracking_.reasons(gpa);
  if (why & PageTracking::kCode) invalidate_code(gpa.page_base());
  if ((why & ~PageTracking::kCode) && tracker_ != nullptr) tracker_->on_tracked_write(gpa, size);
}

bool Vcpu::fetch_page(DecodedPage*& page, uint64_t& page_va, const uint8_t*& host) {
  const uint64_t rip = s_.rip;
  page_va = rip & ~kPageMask;
  if (tlb_entry(rip).exec_tag != page_va) {
    Translation t;
    if (!translate(rip, Access::kExec, t)) return false;
    if (t.kind != Translation::Kind::kRam) {
      stop("instruction fetch from device memory at RIP " + hex(rip));
      return false;
    }
  }
  const TlbEntry& e = tlb_entry(rip);
  const Gpa gpa = Gpa::from_page(e.gpa_page);
  // Keep the host address: a data access may evict this TLB entry while the page runs.
  host = reinterpret_cast<const uint8_t*>(page_va + e.addend);
  page = code_.get(gpa.page_number());
  if (!(tracking_.reasons(gpa) & PageTracking::kCode)) {
    tracking_.set(gpa, PageTracking::kCode);
    // Writes to this page must now trap: drop write entries that may map it.
    for (auto& view : tlb_) {
      for (auto& entry : view) entry.write_tag = 1;
    }
  }
  return true;
}

const DecodedInsn* Vcpu::decode_at(DecodedPage* page, uint64_t page_va, const uint8_t* host) {
  const unsigned off = static_cast<unsigned>(s_.rip - page_va);
  const unsigned avail = static_cast<unsigned>(kPageSize) - off;
  DecodedInsn d;
  DecodeStatus st = decode_instruction(host + off, avail, d);
  uint8_t buf[15];
  const uint8_t* shown = host + off;
  unsigned shown_len = std::min(avail, 15u);
  bool crosses = false;
  if (st == DecodeStatus::kNeedMoreBytes && avail < 15) {
    // The instruction continues on the next page: decode it from a copy, never cached.
    std::memcpy(buf, host + off, avail);
    insn_rip_ = s_.rip;
    if (!access_slow(page_va + kPageSize, buf + avail, 15 - avail, Access::kExec)) return nullptr;
    st = decode_instruction(buf, 15, d);
    shown = buf;
    shown_len = 15;
    crosses = true;
  }
  ++counters_.decodes;
  if (st == DecodeStatus::kInvalid || st == DecodeStatus::kNeedMoreBytes) {
    insn_rip_ = s_.rip;
    raise(kVecUd);
    return nullptr;
  }
  if (st == DecodeStatus::kUnsupported) {
    std::string bytes;
    for (unsigned i = 0; i < std::min(shown_len, 15u); ++i) {
      char b[4];
      std::snprintf(b, sizeof b, "%s%02x", i ? " " : "", shown[i]);
      bytes += b;
    }
    stop("unsupported instruction '" + disassemble(shown, shown_len, s_.rip) + "' (bytes " +
         bytes + ") at RIP " + hex(s_.rip));
    return nullptr;
  }
  if (crosses) {
    scratch_ = d;
    return &scratch_;
  }
  return page->insert(off, d);
}

RunResult Vcpu::run(uint64_t budget) {
  const uint64_t start = counters_.retired;
  const uint64_t end = start + budget;
  auto result = [&](StopReason why) { return RunResult{why, counters_.retired - start}; };
  update_tlb_view();
  while (true) {
    if (stopped_) return result(StopReason::kStopped);
    if (exit_requested_) return result(StopReason::kExit);
    if (pending_.valid) {
      if (!deliver_exceptions_) {
        last_exception_ = pending_;
        pending_.valid = false;
        return result(StopReason::kException);
      }
      deliver_pending_exception();
      continue;
    }
    if (counters_.retired >= end) return result(StopReason::kBudget);
    if (!interrupt_shadow_ && irq_source_ != nullptr && (s_.rflags & kFlagIf) &&
        irq_source_->has_pending_interrupt()) {
      halted_ = false;
      const uint8_t vector = irq_source_->acknowledge_interrupt();
      ++counters_.interrupts;
      if (!deliver(vector, false, 0)) deliver_pending_exception();
      continue;
    }
    if (halted_) return result(StopReason::kHalted);

    DecodedPage* page;
    uint64_t page_va;
    const uint8_t* code_host;
    if (!fetch_page(page, page_va, code_host)) continue;
    const uint64_t limit = interrupt_shadow_ ? counters_.retired + 1 : end;
    interrupt_shadow_ = false;
    break_inner_ = false;
    while (true) {
      const uint64_t off = s_.rip - page_va;
      if (off >= kPageSize) break;
      const DecodedInsn* d = page->slot(static_cast<unsigned>(off));
      if (d == nullptr) {
        d = decode_at(page, page_va, code_host);
        if (d == nullptr) break;
      }
      insn_rip_ = s_.rip;
      s_.rip += d->len;
      stack_access_ = false;
      const Exec ex = d->handler(*this, *d);
      if (ex == Exec::kFault) {
        s_.rip = insn_rip_;
        break;
      }
      if (ex == Exec::kStop) {
        s_.rip = insn_rip_;
        break;
      }
      ++counters_.retired;
      if (ex == Exec::kHalt) {
        halted_ = true;
        break;
      }
      if (counters_.retired >= limit || break_inner_) break;
      if (ex != Exec::kNext && ex != Exec::kJump) break;
    }
  }
}

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
  if ((selector & 4) || offset + 7 > s_.gdtr.limit) return false;
  const bool saved = supervisor_override_;
  supervisor_override_ = true;
  update_tlb_view();
  bool ok = read<8>(s_.gdtr.base + offset, low);
  high = 0;
  if (ok && offset + 15 <= s_.gdtr.limit) ok = read<8>(s_.gdtr.base + offset + 8, high);
  supervisor_override_ = saved;
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

void Vcpu::write_cr0(uint64_t v) {
  s_.cr0 = v | kCr0Pe | kCr0Pg;
  flush_tlb();
}

void Vcpu::write_cr3(uint64_t v) {
  s_.cr3 = v;
  flush_tlb();
  ++counters_.cr3_loads;
  mmu_.cr3_loaded(paging_context());
}

void Vcpu::write_cr4(uint64_t v) {
  s_.cr4 = v | kCr4Pae;
  flush_tlb();
}

void Vcpu::invlpg(uint64_t va) {
  const uint64_t page_va = va & ~kPageMask;
  for (auto& view : tlb_) {
    TlbEntry& e = view[(va >> kPageShift) & (kTlbSize - 1)];
    if (e.read_tag == page_va || e.exec_tag == page_va) e = TlbEntry{};
  }
  ++counters_.invlpg;
  break_inner_ = true;
  mmu_.invlpg(Gva{va}, paging_context());
}

bool Vcpu::read_msr(uint32_t msr, uint64_t& value) {
  switch (msr) {
    case kMsrTsc: value = tsc(); return true;
    case kMsrApicBase: value = s_.apic_base; return true;
    case kMsrEfer: value = s_.efer; return true;
    case kMsrStar: value = s_.star; return true;
    case kMsrLstar: value = s_.lstar; return true;
    case kMsrCstar: value = s_.cstar; return true;
    case kMsrFmask: value = s_.fmask; return true;
    case kMsrFsBase: value = s_.fs_base; return true;
    case kMsrGsBase: value = s_.gs_base; return true;
    case kMsrKernelGsBase: value = s_.kernel_gs_base; return true;
    default: return false;
  }
}

bool Vcpu::write_msr(uint32_t msr, uint64_t value) {
  switch (msr) {
    case kMsrTsc:
      s_.tsc_offset = static_cast<int64_t>(value - counters_.retired);
      return true;
    case kMsrApicBase:
      return value == s_.apic_base;  // relocating or disabling the APIC is not modelled
    case kMsrEfer: {
      // LME/LMA are fixed once in long mode; only SCE and NXE may change.
      constexpr uint64_t kFixed = kEferLme | kEferLma;
      if ((value & kFixed) != (s_.efer & kFixed)) return false;
      if (value & ~(kFixed | kEferSce | kEferNxe)) return false;
      s_.efer = value;
      flush_tlb();
      return true;
    }
    case kMsrStar: s_.star = value; return true;
    case kMsrLstar:
    case kMsrCstar:
    case kMsrFsBase:
    case kMsrGsBase:
    case kMsrKernelGsBase:
      if (!is_canonical(value)) return false;
      if (msr == kMsrLstar) s_.lstar = value;
      if (msr == kMsrCstar) s_.cstar = value;
      if (msr == kMsrFsBase) s_.fs_base = value;
      if (msr == kMsrGsBase) s_.gs_base = value;
      if (msr == kMsrKernelGsBase) s_.kernel_gs_base = value;
      return true;
    case kMsrFmask: s_.fmask = value & 0xffffffff; return true;
    default:
      return false;
  }
}

}  // namespace densevm::cpu
