// BlockEmitter's frame: block entry and exits, guest registers and addresses, the soft TLB,
// conditions, and the handler call for instructions not inlined.
#include "vmm/cpu/jit/block_emitter.h"

#include <climits>

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

namespace {

bool fits_i32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

// Guest conditions that read CF, which INC and DEC leave alone.
bool reads_cf(unsigned cc) { return (cc >> 1) == 1 || (cc >> 1) == 3; }

}  // namespace

void BlockEmitter::cold_exit(const Label& at, unsigned retired, uint16_t rip_off, int last_off) {
  ColdStub c{.kind = ColdStub::Kind::kExit, .at = at};
  c.index = static_cast<int32_t>(retired);
  c.rip_off = rip_off;
  c.last_off = last_off;
  cold(c);
}

void BlockEmitter::emit_cold(const ColdStub& c) {
  a_.bind(c.at);
  switch (c.kind) {
    case ColdStub::Kind::kExit:
      exit_to(static_cast<unsigned>(c.index), c.rip_off, c.last_off);
      break;
    case ColdStub::Kind::kLoadSlow:
    case ColdStub::Kind::kStoreSlow:
      slow_call(c.kind == ColdStub::Kind::kLoadSlow, c.site, c.index, c.reg);
      a_.jmp(c.back);
      break;
    case ColdStub::Kind::kSlowInsn: {
      // The hot version's TLB compare clobbered the host flags: this one reads the guest's
      // from the lazy record (every instruction that reads flags finds them recorded).
      const GuestInsn& g = insns_[c.site];
      const Site s{&g, c.site, g.off, static_cast<uint16_t>(g.off + g.d.len)};
      flags_ = c.flags_before;
      flags_.host_live = false;
      mode_ = Mode::kSlow;
      const Done done = emit_inline(s);
      mode_ = Mode::kHot;
      if (done != Done::kNext || flags_ != c.flags_after) {
        // The code after it expects what the hot version left: never expected, but a block
        // that cannot keep that promise is not used (the interpreter runs it).
        a_.reportError(kErrorInvalidState, "slow version of an instruction diverged");
        break;
      }
      check_break(s);
      a_.jmp(c.back);
      break;
    }
    case ColdStub::Kind::kRaiseGp0:
      a_.mov(rdi, rbx);
      a_.lea(rsi, ptr(r12, c.rip_off));
      a_.lea(rdx, ptr(r13, c.index));
      a_.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::raise_gp0)));
      a_.jmp(imm(g_.fault_exit));
      break;
  }
}

void BlockEmitter::emit_block(std::span<const GuestInsn> insns, Block& block, bool next_crosses) {
  block_ = &block;
  insns_ = insns;
  block_count_ = static_cast<unsigned>(insns.size());
  block.count = static_cast<uint16_t>(insns.size());
  slots_used_ = 0;
  flags_ = {};
  // Backwards: flags are live out of the block; a killer makes them dead above it.
  flags_needed_.assign(insns.size(), true);
  bool live = true;
  for (size_t i = insns.size(); i-- > 0;) {
    flags_needed_[i] = live;
    switch (flag_role(insns[i])) {
      case FlagRole::kKills: live = false; break;
      case FlagRole::kTransparent: break;
      case FlagRole::kOther: live = true; break;
    }
  }

  // The run loop checked the budget before entering; a chained jump did not.
  Label over_budget = a_.newLabel();
  a_.lea(rax, ptr(r13, static_cast<int32_t>(block_count_)));
  a_.cmp(rax, r14);
  a_.ja(over_budget);
  cold_exit(over_budget, 0, insns[0].off, -1);
  reload_tlb_view();

  for (unsigned i = 0; i < insns.size(); ++i) {
    const GuestInsn& g = insns[i];
    const Site s{&g, i, g.off, static_cast<uint16_t>(g.off + g.d.len)};
    mode_ = ends_block(g.z) ? Mode::kAccessStub : Mode::kHot;
    insn_slow_ = a_.newLabel();
    insn_slow_used_ = false;
    insn_stored_ = false;
    const FlagsKnown before = flags_;
    Done done = emit_inline(s);
    if (insn_slow_used_ && done != Done::kNext) {
      a_.reportError(kErrorInvalidState, "a slow version for an instruction not inlined");
    }
    if (done == Done::kNo) {
      emit_helper(s);
      done = Done::kNext;
    } else if (insn_slow_used_) {
      Label back = a_.newLabel();
      a_.bind(back);
      ColdStub c{.kind = ColdStub::Kind::kSlowInsn, .at = insn_slow_, .back = back, .site = i};
      c.flags_before = before;
      c.flags_after = flags_;
      cold(c);
    }
    mode_ = Mode::kHot;
    if (done == Done::kEndsBlock) break;
    if (i + 1 == insns.size()) {
      if (next_crosses) {
        run_crossing(i + 1, s.next, s.off);
      } else {
        goto_offset(s, i + 1, s.next, false);
      }
    }
  }
  // Out-of-line code after the block: slow paths, fault and budget exits (a slow version
  // adds stubs of its own: by index, a copy each).
  for (size_t k = 0; k < cold_.size(); ++k) {
    const ColdStub c = cold_[k];
    emit_cold(c);
  }
  cold_.clear();
}

// ---- guest registers and addresses ----

Mem BlockEmitter::gpr(unsigned r, unsigned size) const {
  if (size == 1 && r >= kAh) return byte_ptr(rbx, l_.gpr + 8 * static_cast<int32_t>(r - kAh) + 1);
  return ptr(rbx, l_.gpr + 8 * static_cast<int32_t>(r), size);
}

void BlockEmitter::load_gpr(const Gp& dst, unsigned r, unsigned size) {
  switch (size) {
    case 1: a_.movzx(dst.r32(), gpr(r, 1)); break;
    case 2: a_.movzx(dst.r32(), gpr(r, 2)); break;
    case 4: a_.mov(dst.r32(), gpr(r, 4)); break;
    default: a_.mov(dst.r64(), gpr(r, 8)); break;
  }
}

void BlockEmitter::store_gpr(unsigned r, unsigned size, const Gp& src) {
  switch (size) {
    case 1: a_.mov(gpr(r, 1), src.r8()); break;
    case 2: a_.mov(gpr(r, 2), src.r16()); break;
    case 4:  // a 32-bit write zero-extends; one 8-byte store keeps later loads forwarded
      a_.mov(r11d, src.r32());
      a_.mov(gpr(r, 8), r11);
      break;
    default: a_.mov(gpr(r, 8), src.r64()); break;
  }
}

// Vcpu::effective_address, without touching host flags (a flag-setting compare may sit
// before and its branch after).
bool BlockEmitter::effective_address(const Site& s, const Gp& out) {
  const DecodedInsn& d = s.g->d;
  int64_t disp = d.disp;
  bool has_base = false;
  Gp base = out;
  if (d.base == kRipBase) {
    disp += s.next;  // RIP-relative: from the next instruction
    base = r12;
    has_base = true;
  } else if (d.base != kNoReg) {
    a_.mov(out, gpr(d.base, 8));
    has_base = true;
  }
  const bool has_index = d.index != kNoReg;
  if (has_index) a_.mov(r10, gpr(d.index, 8));
  const bool small = fits_i32(disp);
  const int32_t d32 = small ? static_cast<int32_t>(disp) : 0;
  if (!has_base && !has_index) {
    a_.mov(out, static_cast<uint64_t>(disp));
  } else {
    if (!has_base) {
      a_.mov(r11, static_cast<uint64_t>(d32));
      base = r11;
    }
    if (has_index) {
      a_.lea(out, ptr(base, r10, d.scale, has_base ? d32 : 0));
    } else if (d32 != 0 || base != out) {
      a_.lea(out, ptr(base, d32));
    }
    if (!small) {
      a_.mov(r11, static_cast<uint64_t>(disp));
      a_.lea(out, ptr(out, r11));
    }
  }
  if (d.addr32) a_.mov(out.r32(), out.r32());
  if (d.seg == kSegFs || d.seg == kSegGs) {
    a_.mov(r10, qword_ptr(rbx, d.seg == kSegFs ? l_.fs_base : l_.gs_base));
    a_.lea(out, ptr(out, r10));
  }
  return d.base == kRsp || d.base == kRbp;
}

// ---- the soft TLB: Vcpu::read / Vcpu::write inline ----

void BlockEmitter::tlb_lookup(const Gp& va, unsigned size, int32_t tag, const Label& slow) {
  // Entry (va >> 12) % kTlbEntries of the current view; one tag compare covers a crossing access:
  // the last byte's page is never the tag in the first byte's slot. A tag is page | 0xfff
  // (Vcpu::tlb_tag), so an all-zero entry never matches. The compare clobbers the host flags.
  flags_.host_live = false;
  // rbp holds the view (Vcpu::tlb_view_): loaded at block entry and after anything that may
  // change it (reload_tlb_view); the entry is at rbp + r9, r9 = index x entry size.
  constexpr int kShift = 12 - VcpuAccess::kTlbEntryShift;
  a_.mov(r9, va);
  a_.shr(r9, kShift);
  a_.and_(r9d, (VcpuAccess::kTlbEntries - 1) << VcpuAccess::kTlbEntryShift);
  if (size == 1) a_.mov(r8, va); else a_.lea(r8, ptr(va, static_cast<int32_t>(size - 1)));
  a_.or_(r8, 0xfff);
  a_.cmp(r8, qword_ptr(rbp, r9, 0, tag));
  a_.jne(slow);
  a_.mov(r9, qword_ptr(rbp, r9, 0, VcpuAccess::kTlbAddend));
}

// VcpuAccess::load/store through the stub, which keeps rax..rdi: `reg` is the value loaded
// or stored. Clobbers r8-r11 and the host flags.
void BlockEmitter::slow_call(bool load, uint32_t site, int32_t index, const Gp& reg) {
  if (!load) a_.mov(r10, reg.r64());
  a_.mov(r9d, site);
  a_.lea(r8, ptr(r13, index));
  a_.call(imm(load ? g_.load_slow : g_.store_slow));
  if (load) a_.mov(reg.r64(), r10);
}

void BlockEmitter::load_mem(const Site& s, const Gp& va, unsigned size, const Gp& dst,
                            bool stack) {
  const uint32_t site = MemSite::pack(size, stack, s.off, s.g->d.len);
  const auto index = static_cast<int32_t>(s.index);
  if (mode_ == Mode::kSlow) {
    flags_.host_live = false;
    slow_call(true, site, index, dst);
    return;
  }
  if (mode_ == Mode::kHot && insn_stored_) {
    // A slow version runs the instruction again from its start: exact only if nothing the
    // guest sees was written before its last access. No inline form loads after a store.
    a_.reportError(kErrorInvalidState, "a load after a store in one instruction");
  }
  Label slow = mode_ == Mode::kHot ? insn_slow_ : a_.newLabel(), done = a_.newLabel();
  tlb_lookup(va, size, VcpuAccess::kTlbReadTag, slow);
  switch (size) {
    case 1: a_.movzx(dst.r32(), byte_ptr(va, r9)); break;
    case 2: a_.movzx(dst.r32(), word_ptr(va, r9)); break;
    case 4: a_.mov(dst.r32(), dword_ptr(va, r9)); break;
    default: a_.mov(dst.r64(), qword_ptr(va, r9)); break;
  }
  if (mode_ == Mode::kHot) {
    insn_slow_used_ = true;
    return;
  }
  a_.bind(done);
  cold({.kind = ColdStub::Kind::kLoadSlow, .at = slow, .back = done, .reg = dst, .site = site,
        .index = index});
}

void BlockEmitter::store_mem(const Site& s, const Gp& va, unsigned size, const Gp& value,
                             bool stack) {
  const uint32_t site = MemSite::pack(size, stack, s.off, s.g->d.len);
  const auto index = static_cast<int32_t>(s.index);
  if (mode_ == Mode::kSlow) {
    flags_.host_live = false;
    slow_call(false, site, index, value);
    return;
  }
  Label slow = mode_ == Mode::kHot ? insn_slow_ : a_.newLabel(), done = a_.newLabel();
  tlb_lookup(va, size, VcpuAccess::kTlbWriteTag, slow);
  a_.mov(ptr(va, r9, 0, 0, size), sized(value, size));
  if (mode_ == Mode::kHot) {
    insn_slow_used_ = true;
    insn_stored_ = true;
    return;
  }
  a_.bind(done);
  cold({.kind = ColdStub::Kind::kStoreSlow, .at = slow, .back = done, .reg = value, .site = site,
        .index = index});
}

void BlockEmitter::check_break(const Site& s) {
  Label leave = a_.newLabel();
  if (flags_.host_live) {
    // The instruction's flags are in the host's (an ALU op after its load): tested without
    // touching them, so the next instruction's Jcc, SETcc or CMOVcc still reads them there.
    Label go_on = a_.newLabel();
    a_.movzx(ecx, byte_ptr(rbx, l_.break_inner));
    a_.jecxz(rcx, go_on);
    a_.jmp(leave);
    a_.bind(go_on);
  } else {
    a_.cmp(byte_ptr(rbx, l_.break_inner), 0);
    a_.jne(leave);
  }
  cold_exit(leave, s.index + 1, s.next, s.off);
}

void BlockEmitter::check_canonical(const Site& s, const Gp& target) {
  Label bad = a_.newLabel();
  a_.mov(r10, target);
  a_.shl(r10, 16);
  a_.sar(r10, 16);
  a_.cmp(r10, target);
  a_.jne(bad);
  cold({.kind = ColdStub::Kind::kRaiseGp0, .at = bad, .index = static_cast<int32_t>(s.index),
        .rip_off = s.off});
  flags_.host_live = false;
}

// ---- flags ----

void BlockEmitter::set_arith_flags(const Gp& bits) {
  a_.mov(r8, qword_ptr(rbx, l_.rflags));
  a_.and_(r8, ~static_cast<int32_t>(kFlagsArith));
  a_.or_(r8, bits.r64());
  a_.mov(qword_ptr(rbx, l_.rflags), r8);
  a_.mov(byte_ptr(rbx, l_.lazy_op), static_cast<unsigned>(FlagOp::kNone));
  flags_ = {false, true, FlagOp::kNone, 0};
}

void BlockEmitter::result_flags(const Gp& dst, const Gp& value, unsigned size, uint32_t keep) {
  a_.test(sized(value, size), sized(value, size));
  a_.pushfq();
  a_.pop(dst.r64());
  a_.and_(dst.r32(), keep);
  flags_.host_live = false;
}

// ---- conditions ----

CondCode BlockEmitter::condition(unsigned cc) {
  const auto host = static_cast<CondCode>(cc);
  const bool inc_dec = flags_.op == FlagOp::kInc || flags_.op == FlagOp::kDec;
  if (flags_.host_live && !(inc_dec && reads_cf(cc))) return host;
  if (flags_.recorded && flags_.op == FlagOp::kNone) {
    // RFLAGS holds them: one test of the bits the condition reads, where one suffices.
    static constexpr uint32_t kBits[8] = {kFlagOf, kFlagCf, kFlagZf, kFlagCf | kFlagZf,
                                          kFlagSf, kFlagPf, 0, 0};
    const uint32_t bits = kBits[cc >> 1];
    if (bits != 0) {
      a_.test(dword_ptr(rbx, l_.rflags), bits);
      flags_.host_live = false;
      return (cc & 1) ? CondCode::kZ : CondCode::kNZ;
    }
  }
  if (flags_.recorded && flags_.op != FlagOp::kNone && !(inc_dec && reads_cf(cc))) {
    // Replays the recorded operation on the host: the same operands at the same size set
    // the same flags (a, b and res are stored masked to size).
    const unsigned size = flags_.size;
    const Gp r = sized(rax, size);
    switch (flags_.op) {
      case FlagOp::kSub:
        a_.mov(rax, qword_ptr(rbx, l_.lazy_a));
        a_.cmp(r, ptr(rbx, l_.lazy_b, size));
        break;
      case FlagOp::kAdd:
        a_.mov(rax, qword_ptr(rbx, l_.lazy_a));
        a_.add(r, ptr(rbx, l_.lazy_b, size));
        break;
      case FlagOp::kLogic:
        a_.mov(rax, qword_ptr(rbx, l_.lazy_res));
        a_.test(r, r);
        break;
      case FlagOp::kInc:
        a_.mov(rax, qword_ptr(rbx, l_.lazy_a));
        a_.inc(r);
        break;
      case FlagOp::kDec:
        a_.mov(rax, qword_ptr(rbx, l_.lazy_a));
        a_.dec(r);
        break;
      default:
        goto helper;
    }
    flags_.host_live = true;
    return host;
  }
helper:
  a_.mov(rdi, rbx);
  a_.mov(esi, cc);
  a_.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::condition)));
  a_.test(eax, eax);
  flags_.host_live = false;
  return CondCode::kNZ;
}

void BlockEmitter::carry_into(const Gp& dst) {
  const unsigned size = flags_.size;
  if (flags_.host_live && flags_.op != FlagOp::kInc && flags_.op != FlagOp::kDec) {
    a_.setc(dst.r8());
    a_.movzx(dst.r32(), dst.r8());
    return;
  }
  if (flags_.recorded) {
    switch (flags_.op) {
      case FlagOp::kSub:
        a_.mov(dst.r64(), qword_ptr(rbx, l_.lazy_a));
        a_.cmp(sized(dst, size), ptr(rbx, l_.lazy_b, size));
        a_.setc(dst.r8());
        a_.movzx(dst.r32(), dst.r8());
        flags_.host_live = true;
        return;
      case FlagOp::kAdd:
        a_.mov(dst.r64(), qword_ptr(rbx, l_.lazy_a));
        a_.add(sized(dst, size), ptr(rbx, l_.lazy_b, size));
        a_.setc(dst.r8());
        a_.movzx(dst.r32(), dst.r8());
        flags_.host_live = true;
        return;
      case FlagOp::kLogic:
        a_.mov(dst.r32(), 0);
        return;
      case FlagOp::kInc:
      case FlagOp::kDec:
        a_.movzx(dst.r32(), byte_ptr(rbx, l_.lazy_carry));
        return;
      case FlagOp::kNone:
        a_.mov(dst.r32(), dword_ptr(rbx, l_.rflags));
        a_.and_(dst.r32(), 1);
        flags_.host_live = false;
        return;
      default:
        break;
    }
  }
  a_.mov(rdi, rbx);
  a_.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::carry)));
  a_.mov(dst.r64(), rax);
  flags_.host_live = false;
}

// ---- exits ----

// Clobbers rax.
void BlockEmitter::store_insn_rip(int last_off) {
  if (last_off < 0) return;
  a_.lea(rax, ptr(r12, last_off));
  a_.mov(qword_ptr(rbx, l_.insn_rip), rax);
}

void BlockEmitter::exit_to(unsigned retired, uint16_t rip_off, int last_off) {
  if (retired != 0) a_.lea(r13, ptr(r13, static_cast<int32_t>(retired)));
  a_.lea(rax, ptr(r12, rip_off));
  a_.mov(qword_ptr(rbx, l_.rip), rax);
  store_insn_rip(last_off);
  a_.xor_(eax, eax);
  a_.jmp(imm(g_.epilogue));
}

// After a branch whose target is known only at run time (or lies on another page): the
// target's block straight away when VcpuAccess::next_block finds it — what the run loop
// would run next, with nothing for it to do in between — else back to the run loop.
void BlockEmitter::continue_at(unsigned retired, const Gp& target, int last_off) {
  if (retired != 0) a_.lea(r13, ptr(r13, static_cast<int32_t>(retired)));
  a_.mov(rsi, target);
  a_.mov(qword_ptr(rbx, l_.rip), rsi);
  store_insn_rip(last_off);  // uses rax
  a_.jmp(imm(g_.dispatch));
}

// The run loop would step the crossing instruction next (it starts no block: the
// translator never holds it); run_crossing does the same from here and finds the block
// after it as next_block does. rax: its code, else 0 (go on from RIP) or 1 (end the page
// run) in rdx.
void BlockEmitter::run_crossing(unsigned retired, uint16_t off, int last_off) {
  if (retired != 0) a_.lea(r13, ptr(r13, static_cast<int32_t>(retired)));
  store_insn_rip(last_off);  // uses rax
  a_.mov(rdi, rbx);
  a_.lea(rsi, ptr(r12, off));
  a_.mov(rdx, r12);
  a_.mov(rcx, r13);
  a_.mov(r8, r14);
  a_.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::run_crossing)));
  a_.mov(r13, qword_ptr(rbx, l_.retired));
  Label leave = a_.newLabel();
  a_.test(rax, rax);
  a_.jz(leave);
  a_.mov(r12, rdx);
  a_.jmp(rax);
  a_.bind(leave);
  a_.mov(rax, rdx);
  a_.jmp(imm(g_.epilogue));
}

void BlockEmitter::goto_offset(const Site& s, unsigned retired, int64_t target, bool branch) {
  const bool in_page = target >= 0 && target < 4096;
  if (!in_page) {
    // Another page: the run loop takes it from here, as the interpreter's loop ends a page
    // run there. A branch faults at itself if the target is not canonical (it crossed the
    // hole); falling off the page faults at the fetch, which the run loop does.
    if (fits_i32(target)) {
      a_.lea(rax, ptr(r12, static_cast<int32_t>(target)));
    } else {
      a_.mov(rax, static_cast<uint64_t>(target));
      a_.add(rax, r12);
    }
    if (branch) check_canonical(s, rax);
    continue_at(retired, rax, s.off);
    return;
  }
  if (slots_used_ == Block::kMaxSlots) {
    exit_to(retired, static_cast<uint16_t>(target), s.off);
    return;
  }
  a_.lea(r13, ptr(r13, static_cast<int32_t>(retired)));
  store_insn_rip(s.off);
  // jmp rel32 with its displacement 4-byte aligned, first to the stub right after it.
  while ((a_.offset() + 1) % 4 != 0) a_.nop();
  ChainSlot& slot = block_->slots[slots_used_++];
  slot.from = block_;
  slot.target = static_cast<uint16_t>(target);
  slot.rel32_at = static_cast<uint32_t>(a_.offset() + 1);
  a_.db(0xe9);
  a_.dd(0);
  a_.lea(rax, ptr(r12, static_cast<int32_t>(target)));
  a_.mov(qword_ptr(rbx, l_.rip), rax);
  a_.mov(rax, reinterpret_cast<uint64_t>(&slot));  // the run loop chains this jump
  a_.jmp(imm(g_.epilogue));
}

// ---- instructions not inlined ----

void BlockEmitter::emit_helper(const Site& s) {
  a_.mov(rdi, rbx);
  a_.mov(rsi, reinterpret_cast<uint64_t>(s.g->record));
  a_.lea(rdx, ptr(r12, s.off));
  a_.lea(rcx, ptr(r13, static_cast<int32_t>(s.index)));
  a_.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::exec_insn)));
  a_.test(eax, eax);
  a_.jnz(imm(g_.helper_exit));
  reload_tlb_view();  // the handler may have changed CPL
  flags_ = {};
}

void BlockEmitter::reload_tlb_view() { a_.mov(rbp, qword_ptr(rbx, l_.tlb_view)); }

}  // namespace densevm::cpu::jit
