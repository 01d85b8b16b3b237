#include "vmm/cpu/vcpu.h"

#include <algorithm>
#include <string>

#include "vmm/cpu/decoder.h"
#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu_step.h"
#include "vmm/internal/hex.h"

namespace densevm::cpu {

Vcpu::Vcpu(Mmu& mmu, DeviceBus& bus, PageTracking& tracking, WriteTracker* tracker)
    : mmu_(mmu), bus_(bus), tracking_(tracking), tracker_(tracker) {}

Vcpu::~Vcpu() = default;

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

Exec Vcpu::raise_unimplemented(const DecodedInsn& d) {
  ++counters_.unimplemented_ud;
  if (unimplemented_first_.size() < kUnimplementedShown) {
    const std::string name = mnemonic_name(d.mnemonic);
    if (std::find(unimplemented_first_.begin(), unimplemented_first_.end(), name) ==
        unimplemented_first_.end()) {
      unimplemented_first_.push_back(name);
    }
  }
  return raise(kVecUd);
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
  auto* bytes = reinterpret_cast<uint8_t*>(&tlb_[0]);
  for (size_t p = 0; p < kTlbHostPages; ++p) {
    if ((tlb_touched_ >> p) & 1) std::memset(bytes + p * kPageSize, 0, kPageSize);
  }
  tlb_touched_ = 0;
  break_inner_ = true;
}

void Vcpu::flush_tlb_gpa(Gpa begin, Gpa end) {
  const uint64_t first = begin.page_number(), last = end.page_number();
  for_each_filled_tlb_entry([&](TlbEntry& e) {
    if (e.read_tag != 0 && tlb_gpa(e) >= first && tlb_gpa(e) < last) e = TlbEntry{};
  });
  break_inner_ = true;
}

void Vcpu::invalidate_code(Gpa page) {
  if (code_.invalidate(page.page_number())) ++counters_.code_invalidations;
  if (jit_ != nullptr) jit_->invalidate_page(page.page_number());
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
  const uint64_t page_va = va & ~kPageMask, tag = tlb_tag(va);
  TlbEntry& e = tlb_entry(va);
  // An entry in a page of the TLB never written is zero: not read (a read of a fresh page
  // before its write is two faults).
  const bool fresh = !tlb_touched(e);
  tlb_touch(e);
  if (fresh || e.read_tag != tag) e = TlbEntry{};
  e.addend = reinterpret_cast<uint64_t>(out.host_page) - page_va;
  tlb_gpa(e) = out.gpa.page_number();
  e.read_tag = tag;
  // A write entry only after a write walk: the guest dirty bit is set by that walk.
  if (access == Access::kWrite && out.writable && !out.write_tracked &&
      !tracking_.tracked(out.gpa)) {
    e.write_tag = tag;
  }
  if (access == Access::kExec) e.exec_tag = tag;
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
    if (t.kind == Translation::Kind::kMmio && access == Access::kExec) {
      // The tail of an instruction that runs on into a page outside RAM: all-ones, as a
      // fetch there reads (see fetch_page).
      std::memset(bytes + done, 0xff, n);
    } else if (t.kind == Translation::Kind::kMmio) {
      // A device access is at most 8 bytes wide: a longer one (SGDT's 10 bytes, an IRETQ
      // frame on a stack in device space) goes to the bus as 8-byte pieces.
      for (unsigned at = 0; at < n; at += 8) {
        const unsigned piece = std::min(8u, n - at);
        uint8_t* p = bytes + done + at;
        if (access == Access::kWrite) {
          uint64_t v = 0;
          std::memcpy(&v, p, piece);
          bus_.mmio_write(t.gpa + at, piece, v);
        } else {
          const uint64_t v = bus_.mmio_read(t.gpa + at, piece);
          std::memcpy(p, &v, piece);
        }
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
  if (tag == tlb_tag(va)) return reinterpret_cast<uint8_t*>(page_va + e.addend);
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
  if (tlb_entry(rip).exec_tag != tlb_tag(rip)) {
    Translation t;
    if (!translate(rip, Access::kExec, t)) return false;
    if (t.kind != Translation::Kind::kRam) {
      // No memory answers a fetch outside RAM: it reads all-ones, and FF FF is FF /7, which
      // is undefined (SDM Vol 2 Table A-6, group 5): #UD at RIP, as a machine executing
      // those bytes raises. Fetches never reach a device (UNDEFINED.md, "Memory outside RAM").
      insn_rip_ = rip;
      raise(kVecUd);
      return false;
    }
  }
  const TlbEntry& e = tlb_entry(rip);
  const Gpa gpa = Gpa::from_page(tlb_gpa(e));
  // Keep the host address: a data access may evict this TLB entry while the page runs.
  host = reinterpret_cast<const uint8_t*>(page_va + e.addend);
  page = code_.get(gpa.page_number());
  if (!(tracking_.reasons(gpa) & PageTracking::kCode)) {
    tracking_.set(gpa, PageTracking::kCode);
    // Writes to this page must now trap: drop write entries that may map it.
    for_each_filled_tlb_entry([](TlbEntry& entry) { entry.write_tag = 0; });
  }
  return true;
}

template <typename Keep>
const DecodedInsn* Vcpu::decoded(DecodeStatus st, DecodedInsn& d, Keep keep) {
  ++counters_.decodes;
  if (st == DecodeStatus::kInvalid || st == DecodeStatus::kNeedMoreBytes) {
    insn_rip_ = s_.rip;
    raise(kVecUd);
    return nullptr;
  }
  if (st == DecodeStatus::kUnsupported) {
    // Cached like any instruction: executing it again raises #UD again without a decode.
    d.handler = [](Vcpu& v, const DecodedInsn& insn) { return v.raise_unimplemented(insn); };
  }
  return keep();
}

const DecodedInsn* Vcpu::decode_at(DecodedPage* page, uint64_t page_va, const uint8_t* host) {
  const unsigned off = static_cast<unsigned>(s_.rip - page_va);
  const unsigned avail = static_cast<unsigned>(kPageSize) - off;
  DecodedInsn d;
  const DecodeStatus st = decode_instruction(host + off, avail, d);
  // The instruction continues on the next page: never cached in either page.
  if (st == DecodeStatus::kNeedMoreBytes && avail < 15) return decode_crossing(page_va, host);
  return decoded(st, d, [&] { return page->insert(off, d); });
}

const DecodedInsn* Vcpu::decode_crossing(uint64_t page_va, const uint8_t* host) {
  const unsigned off = static_cast<unsigned>(s_.rip - page_va);
  const unsigned avail = static_cast<unsigned>(kPageSize) - off;
  uint8_t buf[15] = {};
  std::memcpy(buf, host + off, avail);
  insn_rip_ = s_.rip;
  // The next page's bytes as a fetch reads them: through its soft-TLB entry for fetches
  // when it has one (a page that answered a fetch before, in this view, since the last
  // flush), else through the MMU (which fills that entry, or faults).
  const uint64_t next = page_va + kPageSize;
  const TlbEntry& e = tlb_entry(next);
  if (e.exec_tag == tlb_tag(next)) {
    std::memcpy(buf + avail, reinterpret_cast<const uint8_t*>(next + e.addend), 15 - avail);
  } else if (!access_slow(next, buf + avail, 15 - avail, Access::kExec)) {
    return nullptr;
  }
  if (scratch_valid_ && std::memcmp(buf, scratch_bytes_, sizeof(buf)) == 0) return &scratch_;
  DecodedInsn d;
  const DecodeStatus st = decode_instruction(buf, 15, d);
  return decoded(st, d, [&] {
    scratch_ = d;
    std::memcpy(scratch_bytes_, buf, sizeof(buf));
    scratch_valid_ = true;
    return &scratch_;
  });
}

namespace {
// Deliveries in a row with no instruction retired between them (see run()). A guest that
// makes progress retires its handler's first instruction after every delivery.
constexpr unsigned kMaxStalledDeliveries = 1000;
}  // namespace

RunResult Vcpu::run(uint64_t budget) {
  const uint64_t start = counters_.retired;
  const uint64_t end = start + budget;
  auto result = [&](StopReason why) { return RunResult{why, counters_.retired - start}; };
  uint64_t retired_at_delivery = ~uint64_t{0};
  unsigned stalled_deliveries = 0;
  update_tlb_view();
  while (true) {
    if (stopped_) return result(StopReason::kStopped);
    if (exit_requested_) return result(StopReason::kExit);
    if (pause_requested_) {
      pause_requested_ = false;
      return result(StopReason::kPaused);
    }
    if (yield_requested_) {
      yield_requested_ = false;
      return result(StopReason::kBudget);
    }
    if (pending_.valid) {
      if (!deliver_exceptions_) {
        last_exception_ = pending_;
        pending_.valid = false;
        return result(StopReason::kException);
      }
      // A handler that faults before its first instruction retires (its page unmapped, say)
      // makes delivery go round for ever, with virtual time (and so every timer) standing
      // still: the machine can never move again, like a triple fault. Stop it rather than
      // hang the worker thread.
      if (counters_.retired != retired_at_delivery) {
        retired_at_delivery = counters_.retired;
        stalled_deliveries = 0;
      } else if (++stalled_deliveries > kMaxStalledDeliveries) {
        stop("exception delivery makes no progress: vector " + std::to_string(pending_.vector) +
             " at RIP " + hex(s_.rip) + " again and again, no instruction retiring");
        continue;
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
    if (jit_ != nullptr) {
      run_translated(page, page_va, code_host, tlb_gpa(tlb_entry(s_.rip)), limit);
      continue;
    }
    while (s_.rip - page_va < kPageSize &&
           step(page, page_va, code_host, limit) != Step::kEndPage) {
    }
  }
}

}  // namespace densevm::cpu
