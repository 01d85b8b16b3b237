// Vcpu: the software x86-64 vCPU (long mode, rings 0 and 3).
//
// It fetches through a soft TLB, decodes with Zydis once per instruction and caches the
// result per guest-physical code page, and runs each cached instruction through a handler
// pointer. Exceptions and interrupts are delivered through the guest's 64-bit IDT. Virtual
// time is the count of retired instructions, so a run is deterministic.
//
//   Vcpu cpu(mmu, bus, tracking);
//   cpu.state().rip = entry;
//   RunResult r = cpu.run(1'000'000);   // retires at most 1M instructions
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/page_tracking.h"
#include "core/persist.h"
#include "core/zeroed_array.h"
#include "mmu/mmu.h"
#include "vmm/cpu/cpu_state.h"
#include "vmm/cpu/decode_cache.h"
#include "vmm/cpu/decoded_insn.h"
#include "vmm/cpu/flags.h"
#include "vmm/cpu/jit/jit_config.h"
#include "vmm/device_bus.h"

namespace densevm::cpu {

enum class DecodeStatus : uint8_t;  // decoder.h

namespace jit {
class Jit;
struct VcpuAccess;
}  // namespace jit

// Where external interrupts come from (the local APIC).
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  [[nodiscard]] virtual bool has_pending_interrupt() const = 0;
  virtual uint8_t acknowledge_interrupt() = 0;  // returns the vector and marks it in service
};

// MSRs that belong to the platform rather than the core: IA32_TSC_DEADLINE is the local
// APIC's. false means the MSR does not exist or the value is refused (#GP).
class MsrDevice {
 public:
  virtual ~MsrDevice() = default;
  [[nodiscard]] virtual bool read_msr(uint32_t msr, uint64_t& value) = 0;
  [[nodiscard]] virtual bool write_msr(uint32_t msr, uint64_t value) = 0;
};

enum class StopReason : uint8_t {
  kBudget,     // retired the requested number of instructions
  kHalted,     // HLT with nothing pending; resume after an interrupt is raised
  kException,  // deliver_exceptions is off and an exception was raised (tests)
  kStopped,    // fatal for this VM (triple fault, the VMM's own failure), never guest code alone
  kExit,       // a device asked the VM to exit (exit port)
  kPaused,     // a device asked for the slice to end here (checkpoint marker)
};

struct RunResult {
  StopReason reason = StopReason::kBudget;
  uint64_t retired = 0;
};

struct PendingException {
  bool valid = false;
  uint8_t vector = 0;
  bool has_error = false;
  uint32_t error_code = 0;
};

struct VcpuCounters {
  uint64_t retired = 0;
  uint64_t tlb_misses = 0;
  uint64_t decodes = 0;
  uint64_t code_invalidations = 0;
  uint64_t exceptions = 0;
  uint64_t interrupts = 0;
  uint64_t invlpg = 0;
  uint64_t cr3_loads = 0;
  uint64_t unimplemented_ud = 0;  // #UD for instructions the interpreter does not implement
};

// Mnemonics of the first this many distinct unimplemented instructions met are kept.
inline constexpr size_t kUnimplementedShown = 4;

// The vCPU's part of a checkpoint (core/persist.h): architectural state with RFLAGS
// materialized, the exception and run-loop state, and the counters; since version 3 the
// ring-3 system state (TSS limit, LDTR, debug registers), the unimplemented-instruction #UDs,
// the platform MSRs and the x87/SSE state, each at its reset value in an older record.
struct VcpuState {
  static constexpr uint64_t kMaxStopMessage = 4096;
  static constexpr uint64_t kMaxMnemonic = 64;
  CpuState cpu;
  bool supervisor_override = false;
  uint64_t insn_rip = 0;
  PendingException pending, last_exception;
  uint8_t delivery_depth = 0;
  bool deliver_exceptions = false, halted = false, interrupt_shadow = false, exit_requested = false, stopped = false;
  std::string stop_message;
  VcpuCounters counters;
  std::vector<std::string> unimplemented_first;  // at most kUnimplementedShown
  static void fields(auto& s, auto& io) {
    auto& c = s.cpu;
    io(c.gpr, c.rip, c.rflags, c.cr0, c.cr2, c.cr3, c.cr4, c.efer, c.cpl, c.cs, c.ss, c.ds, c.es, c.fs, c.gs, c.tr,
       c.fs_base, c.gs_base, c.kernel_gs_base, c.tss_base, c.gdtr.base, c.gdtr.limit, c.idtr.base, c.idtr.limit,
       c.star, c.lstar, c.cstar, c.fmask, c.apic_base, c.tsc_offset);
    io(s.supervisor_override, s.insn_rip);
    for (auto* e : {&s.pending, &s.last_exception}) io(e->valid, e->vector, e->has_error, e->error_code);
    io(s.delivery_depth, s.deliver_exceptions, s.halted, s.interrupt_shadow, s.exit_requested, s.stopped);
    io.str(s.stop_message, kMaxStopMessage);
    auto& n = s.counters;
    io(n.retired, n.tlb_misses, n.decodes, n.code_invalidations, n.exceptions, n.interrupts, n.invlpg, n.cr3_loads);
    if (io.since(3)) {
      io(c.tss_limit, c.ldtr, c.ldt_base, c.ldt_limit, c.dr, c.dr6, c.dr7, n.unimplemented_ud);
      io.template strings<uint8_t>(s.unimplemented_first, kUnimplementedShown, kMaxMnemonic);
      io(c.pat, c.mtrr_def_type, c.misc_enable, c.fpu);
    }
  }
};

// What a restore may assume of guest memory. kReplaced: any page may hold other bytes now,
// so every decoded page goes. kReported: every page that changed was reported through
// invalidate_code (the VM does so for each P2M frame change, which is how a checkpoint
// rollback puts pages back), so the decoded pages left are current and stay.
enum class RestoredMemory : uint8_t { kReplaced, kReported };

class Vcpu {
 public:
  Vcpu(Mmu& mmu, DeviceBus& bus, PageTracking& tracking, WriteTracker* tracker = nullptr);
  ~Vcpu();
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  [[nodiscard]] RunResult run(uint64_t budget);

  // Hot guest code runs translated to host code (vmm/cpu/jit/DESIGN.md), with the same
  // guest-visible results as the interpreter. False (and `error` says why) if the host
  // gives no executable memory; the vCPU then keeps interpreting.
  [[nodiscard]] bool enable_translation(const jit::Config& config, std::string* error);
  [[nodiscard]] bool translating() const { return jit_ != nullptr; }
  // A clone of a frozen vCPU runs its translations of the pages it still shares with it
  // (jit::Jit::share_from); `keep` holds the frozen VM and its frames. Nothing unless both
  // translate.
  void share_translations(const Vcpu& frozen, std::shared_ptr<const void> keep);
  // Zero when translation is off.
  [[nodiscard]] jit::Stats translation_stats() const;
  // Host memory of the decode cache and of the soft TLB (both views, their entries and
  // guest-physical pages), for `--stats`.
  [[nodiscard]] uint64_t decode_cache_bytes() const { return code_.bytes(); }
  // Times the decode cache passed its bound and dropped every page (host state, not saved).
  [[nodiscard]] uint64_t decode_cache_flushes() const { return code_.flushes(); }
  [[nodiscard]] static constexpr uint64_t soft_tlb_bytes() { return 2 * kTlbSize * (sizeof(TlbEntry) + sizeof(uint64_t)); }

  // Off in instruction-level tests: an exception stops run() with kException instead.
  void set_deliver_exceptions(bool on) { deliver_exceptions_ = on; }
  void set_interrupt_source(InterruptSource* source) { irq_source_ = source; }
  void set_msr_device(MsrDevice* device) { msr_device_ = device; }
  // Ends run() after the current instruction with kBudget, to be called again at once: the
  // caller's view of the next timer deadline changed (a timer armed, a deadline MSR).
  void request_yield() {
    yield_requested_ = true;
    break_inner_ = true;
  }
  // Devices call this when they stop the VM (exit port).
  void request_exit() {
    exit_requested_ = true;
    break_inner_ = true;
  }
  // Ends run() after the current instruction, resumable (the checkpoint marker port).
  void request_pause() {
    pause_requested_ = true;
    break_inner_ = true;
  }

  [[nodiscard]] CpuState& state() { return s_; }
  [[nodiscard]] const CpuState& state() const { return s_; }
  [[nodiscard]] uint64_t rflags() const;
  void set_rflags(uint64_t value);
  [[nodiscard]] const PendingException& last_exception() const { return last_exception_; }
  [[nodiscard]] const std::string& stop_message() const { return stop_message_; }
  [[nodiscard]] const VcpuCounters& counters() const { return counters_; }
  // Mnemonics of the first kUnimplementedShown distinct unimplemented instructions met.
  [[nodiscard]] const std::vector<std::string>& unimplemented_first() const {
    return unimplemented_first_;
  }
  [[nodiscard]] uint64_t tsc() const { return counters_.retired + static_cast<uint64_t>(s_.tsc_offset); }
  [[nodiscard]] bool halted() const { return halted_; }

  // restore() drops the soft TLB (CR3 and CPL change under it) and, unless memory is
  // kReported, every decoded page; it throws StateError for a state no vCPU can be in.
  [[nodiscard]] VcpuState save() const;
  void restore(const VcpuState& s, RestoredMemory memory = RestoredMemory::kReplaced);

  // Drops every soft-TLB entry.
  void flush_tlb();
  // Drops the entries that map guest-physical pages [begin, end): the software INVEPT for
  // one P2M change, without emptying the whole TLB for every ballooned or merged page.
  void flush_tlb_gpa(Gpa begin, Gpa end);
  // Drops cached instructions of one guest-physical page.
  void invalidate_code(Gpa page);

  // ---- used by instruction handlers ----
  [[nodiscard]] uint64_t& gpr(unsigned r) { return s_.gpr[r]; }
  template <unsigned S>
  [[nodiscard]] uint64_t reg(uint8_t r) const {
    if constexpr (S == 1) {
      if (r >= kAh) return (s_.gpr[r - kAh] >> 8) & 0xff;
    }
    return s_.gpr[r] & size_mask(S);
  }
  template <unsigned S>
  void set_reg(uint8_t r, uint64_t v) {
    if constexpr (S == 8) {
      s_.gpr[r] = v;
    } else if constexpr (S == 4) {
      s_.gpr[r] = static_cast<uint32_t>(v);
    } else if constexpr (S == 2) {
      s_.gpr[r] = (s_.gpr[r] & ~uint64_t{0xffff}) | (v & 0xffff);
    } else {
      if (r >= kAh) {
        uint64_t& g = s_.gpr[r - kAh];
        g = (g & ~uint64_t{0xff00}) | ((v & 0xff) << 8);
      } else {
        s_.gpr[r] = (s_.gpr[r] & ~uint64_t{0xff}) | (v & 0xff);
      }
    }
  }
  // Runtime-size variants for handlers that are not templated on size.
  [[nodiscard]] uint64_t reg_sized(uint8_t r, unsigned size) const;
  void set_reg_sized(uint8_t r, unsigned size, uint64_t v);

  [[nodiscard]] uint64_t effective_address(const DecodedInsn& d) const {
    // RSP- and RBP-based operands use SS: a non-canonical one faults with #SS, not #GP.
    if (d.base == kRsp || d.base == kRbp) stack_access_ = true;
    uint64_t ea = static_cast<uint64_t>(d.disp);
    if (d.base == kRipBase) {
      ea += s_.rip;
    } else if (d.base != kNoReg) {
      ea += s_.gpr[d.base];
    }
    if (d.index != kNoReg) ea += s_.gpr[d.index] << d.scale;
    if (d.addr32) ea = static_cast<uint32_t>(ea);
    if (d.seg == kSegFs) ea += s_.fs_base;
    if (d.seg == kSegGs) ea += s_.gs_base;
    return ea;
  }

  // Guest memory at the current privilege. False means an exception is now pending.
  template <unsigned S>
  [[nodiscard]] bool read(uint64_t va, uint64_t& out) {
    const TlbEntry& e = tlb_entry(va);
    if (e.read_tag == tlb_tag(va) && (va & kPageMask) <= kPageSize - S) [[likely]] {
      out = 0;
      std::memcpy(&out, reinterpret_cast<const void*>(va + e.addend), S);
      return true;
    }
    out = 0;
    return access_slow(va, &out, S, Access::kRead);
  }
  template <unsigned S>
  [[nodiscard]] bool write(uint64_t va, uint64_t v) {
    const TlbEntry& e = tlb_entry(va);
    if (e.write_tag == tlb_tag(va) && (va & kPageMask) <= kPageSize - S) [[likely]] {
      std::memcpy(reinterpret_cast<void*>(va + e.addend), &v, S);
      return true;
    }
    return access_slow(va, &v, S, Access::kWrite);
  }
  [[nodiscard]] bool read_sized(uint64_t va, unsigned size, uint64_t& out);
  [[nodiscard]] bool write_sized(uint64_t va, unsigned size, uint64_t v);
  [[nodiscard]] bool read_bytes(uint64_t va, void* out, unsigned size) {
    return access_slow(va, out, size, Access::kRead);
  }
  [[nodiscard]] bool write_bytes(uint64_t va, const void* in, unsigned size) {
    return access_slow(va, const_cast<void*>(in), size, Access::kWrite);
  }
  // Host pointer for a whole-page bulk access, or nullptr (then use the byte path).
  [[nodiscard]] uint8_t* page_pointer(uint64_t va, Access access);

  // Implicit stack accesses (PUSH, POP, CALL, RET, LEAVE, IRET) go through SS.
  void mark_stack_access() const { stack_access_ = true; }
  [[nodiscard]] bool push(uint64_t v) {
    stack_access_ = true;
    const uint64_t rsp = s_.gpr[kRsp] - 8;
    if (!write<8>(rsp, v)) return false;
    s_.gpr[kRsp] = rsp;
    return true;
  }
  [[nodiscard]] bool pop(uint64_t& v) {
    stack_access_ = true;
    if (!read<8>(s_.gpr[kRsp], v)) return false;
    s_.gpr[kRsp] += 8;
    return true;
  }

  LazyFlags& lazy() { return lazy_; }
  void set_flags_lazy(FlagOp op, unsigned size, uint64_t a, uint64_t b, uint64_t res) {
    lazy_.set(op, size, a, b, res);
  }
  // Sets the arithmetic flags named by `mask` to `bits`, keeping the others.
  void set_arith_flags(uint64_t mask, uint64_t bits);
  [[nodiscard]] bool cond(unsigned cc) const { return lazy_.condition(cc, s_.rflags); }
  [[nodiscard]] bool flag(uint64_t bit) const { return (rflags() & bit) != 0; }

  // Records an exception; the handler then returns Exec::kFault.
  Exec raise(uint8_t vector);
  Exec raise(uint8_t vector, uint32_t error_code);
  Exec raise_gp0() { return raise(kVecGp, 0); }
  // #UD for an instruction the interpreter does not implement, counted with its mnemonic.
  Exec raise_unimplemented(const DecodedInsn& d);
  // Stops the VM with a message; the handler returns what this returns. Only for what no
  // guest instruction may cause from ring 3: a triple fault, the VMM's own failures.
  Exec stop(std::string message);

  // System-instruction support.
  void write_cr0(uint64_t v);
  void write_cr3(uint64_t v);
  void write_cr4(uint64_t v);
  void invlpg(uint64_t va);
  [[nodiscard]] bool read_msr(uint32_t msr, uint64_t& value);
  [[nodiscard]] bool write_msr(uint32_t msr, uint64_t value);
  DeviceBus& bus() { return bus_; }
  void set_halted() { halted_ = true; }
  // Blocks interrupts for the next instruction (STI, MOV SS). The fast loop ends here so
  // the shadow covers exactly that instruction.
  void set_interrupt_shadow() {
    interrupt_shadow_ = true;
    break_inner_ = true;
  }
  // Ends the fast loop after this instruction, so the run loop looks at pending interrupts
  // again (after IF was set by POPF or IRET).
  void recheck_events() { break_inner_ = true; }
  // INT n and INT3 (SDM Vol 2A INT n): delivers `vector` now, a trap whose frame holds the
  // next RIP, after checking the gate's DPL against CPL. kFault if the delivery faulted.
  [[nodiscard]] Exec software_interrupt(uint8_t vector);
  // Loads CS/SS for a privilege change (SYSCALL, SYSRET, IRET).
  void set_cpl(uint8_t cpl);
  // Reads the descriptor `selector` names in the GDT, or with TI set in the LDT; false if
  // outside the table's limit or (TI) with a null LDTR, and false with #PF pending if the
  // read faulted. `high` (the upper half of a 16-byte system descriptor) is 0 past the limit.
  [[nodiscard]] bool read_descriptor(uint16_t selector, uint64_t& low, uint64_t& high);
  // Supervisor reads of system structures (TSS, descriptor tables) at any CPL.
  [[nodiscard]] bool read_system(uint64_t va, void* out, unsigned size);
  // A supervisor stack write (a far CALL through a gate into an inner ring).
  [[nodiscard]] bool write_supervisor_stack(uint64_t va, const void* in, unsigned size);
  // Translates `va` for `access` without touching memory or devices (CLFLUSH); false with
  // the fault pending.
  [[nodiscard]] bool probe(uint64_t va, Access access) {
    Translation t;
    return translate(va, access, t);
  }
  [[nodiscard]] bool exception_pending() const { return pending_.valid; }
  // Runs the current instruction's start (for faults and diagnostics).
  [[nodiscard]] uint64_t instruction_rip() const { return insn_rip_; }

 private:
  // A tag is the page's last byte address (page VA | 0xfff), never 0: an all-zero entry is
  // invalid, so the TLB lives in fresh zeroed memory nothing writes to initialise (a written
  // invalid tag cost a new VM 20 first-touch faults, 0.4 ms where a fault costs 18 us).
  // 32 bytes, two to a cache line and never across one: translated code finds an entry with
  // one shift and one mask. The entry's guest-physical page (for code lookups) lives beside
  // it in tlb_gpa_, meaningful while the entry holds a tag.
  struct TlbEntry {
    uint64_t read_tag = 0, write_tag = 0, exec_tag = 0;  // tlb_tag(page VA); 0 = invalid
    uint64_t addend = 0;     // host pointer = guest VA + addend
  };
  [[nodiscard]] static constexpr uint64_t tlb_tag(uint64_t va) { return va | kPageMask; }
  // Direct-mapped, per view: 1024 entries map 4 MiB, a heap-sized working set (256 missed
  // on every access of a 4 MiB heapsort).
  static constexpr unsigned kTlbSize = 1024;
  // Both views are 2 x 32 KiB = 16 host pages; tlb_touched_ has a bit for each page an entry
  // was filled in, so a flush clears only those and a fresh VM's untouched pages stay
  // unfaulted.
  static constexpr size_t kTlbHostPages = 2 * kTlbSize * sizeof(TlbEntry) / kPageSize;

  [[nodiscard]] TlbEntry& tlb_entry(uint64_t va) { return tlb_view_[(va >> kPageShift) & (kTlbSize - 1)]; }
  // The guest-physical page entry e maps (set with its read tag).
  [[nodiscard]] uint64_t& tlb_gpa(const TlbEntry& e) { return tlb_gpa_[static_cast<size_t>(&e - &tlb_[0])]; }
  [[nodiscard]] size_t tlb_offset(const TlbEntry& e) const {
    return static_cast<size_t>(reinterpret_cast<const uint8_t*>(&e) - reinterpret_cast<const uint8_t*>(&tlb_[0]));
  }
  // Whether entry e may have been written since the last flush (its first byte's page was).
  [[nodiscard]] bool tlb_touched(const TlbEntry& e) const { return (tlb_touched_ >> (tlb_offset(e) / kPageSize)) & 1; }
  // Marks the host pages of the TLB that entry e lies in as written.
  void tlb_touch(const TlbEntry& e) {
    const size_t at = tlb_offset(e);
    tlb_touched_ |= (uint32_t{1} << (at / kPageSize)) | (uint32_t{1} << ((at + sizeof(TlbEntry) - 1) / kPageSize));
  }
  // visit(entry) for every entry of both views that may hold a valid tag.
  template <typename Visit>
  void for_each_filled_tlb_entry(Visit&& visit) {
    for (size_t i = 0; i < tlb_.size(); ++i) {
      if (tlb_touched(tlb_[i])) visit(tlb_[i]);
    }
  }
  [[nodiscard]] PagingContext paging_context() const;
  // Translates one page and fills the TLB; false means an exception is pending.
  [[nodiscard]] bool translate(uint64_t va, Access access, Translation& out);
  [[nodiscard]] bool access_slow(uint64_t va, void* data, unsigned size, Access access);
  void update_tlb_view() {
    tlb_user_ = (s_.cpl == 3 && !supervisor_override_) ? 1 : 0;
    tlb_view_ = &tlb_[tlb_user_ * kTlbSize];
    tlb_gpa_view_ = &tlb_gpa_[tlb_user_ * kTlbSize];
  }

  // Finds the decoded page, its VA and host bytes for RIP; false on a fetch fault or stop.
  [[nodiscard]] bool fetch_page(DecodedPage*& page, uint64_t& page_va, const uint8_t*& host);
  [[nodiscard]] const DecodedInsn* decode_at(DecodedPage* page, uint64_t page_va,
                                            const uint8_t* host);
  // The instruction at RIP, whose bytes run on into the next page (fewer than 15 left in
  // the page at `host`): decoded from a copy, kept in scratch_. nullptr: the fetch of the
  // next page faulted, or the bytes are no instruction (#UD raised).
  [[nodiscard]] const DecodedInsn* decode_crossing(uint64_t page_va, const uint8_t* host);
  // A decode's outcome (counted): nullptr with #UD raised for bytes that are no
  // instruction, else the record `keep()` stores `d` in (an unimplemented instruction's
  // raises #UD when it runs). Defined in vcpu.cc, its only user.
  template <typename Keep>
  [[nodiscard]] const DecodedInsn* decoded(DecodeStatus st, DecodedInsn& d, Keep keep);
  // One instruction at RIP (in the page the run loop fetched) through its handler, with
  // the run loop's bookkeeping (vcpu_step.h).
  enum class Step : uint8_t { kNext, kJumped, kEndPage };
  [[nodiscard]] Step step(DecodedPage* page, uint64_t page_va, const uint8_t* host,
                          uint64_t limit);
  // The second half of `step`: instruction `d`, decoded at RIP, run and retired by the
  // same rules (also for the one a translated block runs across a page boundary).
  [[nodiscard]] Step execute(const DecodedInsn* d, uint64_t limit);
  // The inner loop with translation on: translated blocks where there are, `step` elsewhere
  // (vmm/cpu/jit/run_translated.cc).
  void run_translated(DecodedPage* page, uint64_t page_va, const uint8_t* host,
                      uint64_t gpa_page, uint64_t limit);
  void handle_tracked_write(Gpa gpa, unsigned size);

  // Exception and interrupt delivery (SDM Vol 3A §6.14).
  // software: INT n/INT3, whose gate DPL must be >= CPL and whose faults lack the EXT bit.
  [[nodiscard]] bool deliver(uint8_t vector, bool has_error, uint32_t error_code,
                             bool software = false);
  void deliver_pending_exception();
  [[nodiscard]] bool exception_has_error(uint8_t vector) const;

  Mmu& mmu_;
  DeviceBus& bus_;
  PageTracking& tracking_;
  WriteTracker* tracker_;
  InterruptSource* irq_source_ = nullptr;
  MsrDevice* msr_device_ = nullptr;

  CpuState s_;
  LazyFlags lazy_;
  ZeroedArray<TlbEntry> tlb_{2 * kTlbSize};  // the supervisor view, then the user view
  uint32_t tlb_touched_ = 0;
  static_assert(kTlbHostPages <= 32 && 2 * kTlbSize * sizeof(TlbEntry) % kPageSize == 0);
  unsigned tlb_user_ = 0;
  TlbEntry* tlb_view_ = &tlb_[0];  // &tlb_[tlb_user_ * kTlbSize], for translated code
  ZeroedArray<uint64_t> tlb_gpa_{2 * kTlbSize};  // tlb_gpa(), never cleared: read under a tag
  uint64_t* tlb_gpa_view_ = &tlb_gpa_[0];         // &tlb_gpa_[tlb_user_ * kTlbSize]
  bool supervisor_override_ = false;

  DecodeCache code_;
  // The last instruction decoded across a page boundary and the 15 bytes it was decoded
  // from: not in any page's cache (it depends on two pages), reused only while the bytes
  // fetched for it are the same (decoding is a function of the bytes alone). A hot loop
  // with one such instruction (Linux's XZ decompressor: 9.6 M runs) decodes it once.
  DecodedInsn scratch_;
  uint8_t scratch_bytes_[15] = {};
  bool scratch_valid_ = false;

  uint64_t insn_rip_ = 0;
  PendingException pending_;
  PendingException last_exception_;
  uint8_t delivery_depth_ = 0;
  bool deliver_exceptions_ = true;
  bool halted_ = false;
  bool interrupt_shadow_ = false;
  bool exit_requested_ = false;
  bool pause_requested_ = false;  // transient: never set between two run() calls
  bool yield_requested_ = false;  // transient, as pause_requested_
  bool stopped_ = false;
  bool break_inner_ = false;
  mutable bool stack_access_ = false;  // the current access is SS-relative (see translate)  // leave the fast loop: code page stale, MMIO, mode change
  std::string stop_message_;
  VcpuCounters counters_;
  std::vector<std::string> unimplemented_first_;

  friend struct jit::VcpuAccess;  // translated code reads and writes this state
  std::unique_ptr<jit::Jit> jit_;
  bool irq_pending_ = false;  // an interrupt was pending when this page run began
  // For translated code's dispatch stub (jit/translator.cc): this vCPU's table of blocks
  // found by earlier dispatches (jit::BlockCache::dispatch_table) and the jumps the stub
  // found there itself.
  const void* jit_dispatch_ = nullptr;
  uint64_t jit_dispatched_ = 0;
};

}  // namespace densevm::cpu
