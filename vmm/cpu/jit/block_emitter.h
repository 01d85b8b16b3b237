// BlockEmitter: host code for one guest basic block, instruction by instruction.
//
// Every instruction is either inlined (moves, LEA, integer ALU and compares, ADC/SBB,
// INC/DEC/NEG/NOT, SHL/SHR/SAR, IMUL, SETcc/CMOVcc, PUSH/POP, JMP/Jcc/CALL/RET:
// block_emitter_*.cc) or run through its interpreter handler (VcpuAccess::exec_insn), so
// anything the interpreter runs a block may hold. Inlined forms keep the handlers' semantics
// exactly: the same lazy-flags record (or RFLAGS bits), the same order of loads and stores,
// the soft TLB inline and the same slow path behind it. Flags a later register-only
// instruction of the block overwrites before anything can read them or leave are not
// written (flag liveness: no fault, exit or handler lies in between).
//
// Registers while translated code runs (the trampoline, translator.cc, sets them up):
//   rbx  the Vcpu             r12  guest VA of the code page (blocks are VA-independent)
//   r13  retired count at block entry (stored back on exit)   r14  the retire limit
//   rsp  16-byte aligned, kSpillSlots x 8 bytes of spill space at [rsp]
//   rax rcx rdx rsi rdi: instruction temporaries; r8-r11: the soft-TLB fast path
//   r15: a carry kept across a slow access; rbp: the soft TLB's current view (Vcpu::tlb_view_),
//   loaded at every block's entry and again after a handler or a slow access, which may
//   change CPL and with it the view.
//
//   BlockEmitter e(assembler, layout, globals);
//   e.emit_block(insns, block);   // false: the assembler failed, nothing usable
#pragma once

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>

#include <cstdint>
#include <span>
#include <vector>

#include "vmm/cpu/decoded_insn.h"
#include "vmm/cpu/flags.h"
#include "vmm/cpu/jit/block.h"
#include "vmm/cpu/jit/vcpu_access.h"

namespace densevm::cpu::jit {

// The host register `r` at a guest operand's size in bytes (1, 2, 4, else 8).
[[nodiscard]] inline asmjit::x86::Gp sized(const asmjit::x86::Gp& r, unsigned size) {
  switch (size) {
    case 1: return r.r8();
    case 2: return r.r16();
    case 4: return r.r32();
    default: return r.r64();
  }
}

// Whether an operand of `size` bytes is one a general register can hold.
[[nodiscard]] inline bool gpr_size(unsigned size) { return size == 1 || size == 2 || size == 4 || size == 8; }

// One guest instruction as the translator sees it.
struct GuestInsn {
  DecodedInsn d;              // handler and digested operands (what helpers run)
  ZydisDecodedInstruction z;  // Zydis's record: mnemonic, operand order and classes
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  uint16_t off = 0;           // page offset
  const DecodedInsn* record = nullptr;  // the copy helpers get, alive as long as the block
};

// An explicit operand as the inline forms care: a general-purpose register, memory, an
// immediate, or anything else (segment, control registers...: left to the handler).
enum class Operand : uint8_t { kNone, kGpr, kMem, kImm, kOther };

[[nodiscard]] inline Operand operand(const GuestInsn& g, unsigned i) {
  if (i >= g.z.operand_count_visible) return Operand::kNone;
  const ZydisDecodedOperand& op = g.ops[i];
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      const ZydisRegisterClass c = ZydisRegisterGetClass(op.reg.value);
      const bool gpr = c == ZYDIS_REGCLASS_GPR8 || c == ZYDIS_REGCLASS_GPR16 ||
                       c == ZYDIS_REGCLASS_GPR32 || c == ZYDIS_REGCLASS_GPR64;
      return gpr ? Operand::kGpr : Operand::kOther;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: return Operand::kMem;
    case ZYDIS_OPERAND_TYPE_IMMEDIATE: return Operand::kImm;
    default: return Operand::kOther;
  }
}

// Blocks end at anything that leaves the straight line: the rest is for other blocks.
[[nodiscard]] inline bool ends_block(const ZydisDecodedInstruction& z) {
  switch (z.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
      return true;
    default:
      return z.mnemonic == ZYDIS_MNEMONIC_HLT || z.mnemonic == ZYDIS_MNEMONIC_IRETQ ||
             z.mnemonic == ZYDIS_MNEMONIC_IRETD || z.mnemonic == ZYDIS_MNEMONIC_IRET;
  }
}

// Addresses of the shared stubs at the start of the code arena (translator.cc).
struct Globals {
  uint64_t epilogue = 0;     // stores r13 as the retired count, returns rax to the caller
  uint64_t fault_exit = 0;   // a helper left a fault or stop pending: reload r13, return 1
  uint64_t helper_exit = 0;  // exec_insn returned 1 or 2: reload r13, return eax - 1
  uint64_t load_slow = 0;    // soft-TLB misses (translator.cc says the registers)
  uint64_t store_slow = 0;
  uint64_t dispatch = 0;     // rsi = RIP (stored): the block there, as next_block finds it
};

class BlockEmitter {
 public:
  static constexpr unsigned kSpillSlots = 9;

  BlockEmitter(asmjit::x86::Assembler& a, const VcpuAccess::Layout& layout,
               const Globals& globals)
      : a_(a), l_(layout), g_(globals) {}

  // Emits `insns` (at least one) as `block`; fills its count and chain slots. `next_crosses`:
  // the instruction after the last runs on into the next page (not in `insns`: its bytes
  // are two pages'); the block goes on with it through VcpuAccess::run_crossing.
  void emit_block(std::span<const GuestInsn> insns, Block& block, bool next_crosses = false);

 private:
  using Gp = asmjit::x86::Gp;
  using Mem = asmjit::x86::Mem;

  // Where the instruction being emitted is.
  struct Site {
    const GuestInsn* g = nullptr;
    unsigned index = 0;   // instructions before it in the block
    uint16_t off = 0;
    uint16_t next = 0;    // page offset of the next instruction (may be 4096)
  };
  // What translation time knows of the guest flags.
  struct FlagsKnown {
    bool host_live = false;  // host flags are the guest's, from op/size, right now
    bool recorded = false;   // the lazy record holds op/size (kNone: RFLAGS holds them)
    FlagOp op = FlagOp::kNone;
    uint8_t size = 0;
    bool operator==(const FlagsKnown&) const = default;
  };
  // How an instruction's inline form touches the flags, for flag liveness.
  enum class FlagRole : uint8_t { kKills, kTransparent, kOther };
  enum class Done : uint8_t { kNo, kNext, kEndsBlock };

  // Per-instruction forms (block_emitter_*.cc); kNo: not inlined, use the handler.
  Done emit_inline(const Site& s);
  Done emit_move(const Site& s);
  Done emit_extend(const Site& s);
  Done emit_lea(const Site& s);
  Done emit_alu(const Site& s, FlagOp op, int kind);
  Done emit_unary(const Site& s, int kind);
  Done emit_carry_alu(const Site& s, FlagOp op);
  Done emit_shift(const Site& s, int kind);
  Done emit_imul(const Site& s);
  Done emit_setcc(const Site& s);
  Done emit_cmov(const Site& s);
  Done emit_push(const Site& s);
  Done emit_pop(const Site& s);
  Done emit_jmp(const Site& s);
  Done emit_jcc(const Site& s);
  Done emit_call(const Site& s);
  Done emit_ret(const Site& s);
  void emit_helper(const Site& s);

  // Guest registers (GprIndex; AH..BH as 16..19) as memory operands, loads and stores.
  Mem gpr(unsigned r, unsigned size) const;
  void load_gpr(const Gp& dst, unsigned r, unsigned size);
  void store_gpr(unsigned r, unsigned size, const Gp& src);
  // The effective address of the instruction's memory operand, as
  // Vcpu::effective_address computes it; true if SS-relative.
  bool effective_address(const Site& s, const Gp& out);
  // Guest memory through the soft TLB inline; `va` is rsi, dst/value are rax..rdi. A fault
  // leaves translated code through fault_exit. How a miss is handled depends on mode_:
  //   kHot       (an instruction that does not end the block) a miss jumps to the
  //              instruction's slow version: the whole instruction again, every access
  //              through VcpuAccess::load/store, then the check whether the run loop must
  //              look at events (a device access, a write to code). Nothing the guest sees
  //              changed before an instruction's last access (precise faults), so running
  //              it again from the start is exact; and the hot path needs no such check,
  //              since only a slow access can ask for one.
  //   kSlow      (emitting that slow version) the call, no TLB lookup.
  //   kAccessStub (a branch: CALL, RET, JMP m) a miss calls out of line and comes back;
  //              the branch's exit (the dispatch stub, or its own test) sees the request.
  void tlb_lookup(const Gp& va, unsigned size, int32_t tag, const asmjit::Label& slow);
  void reload_tlb_view();  // rbp = the current view
  void load_mem(const Site& s, const Gp& va, unsigned size, const Gp& dst, bool stack);
  void store_mem(const Site& s, const Gp& va, unsigned size, const Gp& value, bool stack);
  // Leaves after the instruction at `s` if its slow access asked the run loop to look again.
  void check_break(const Site& s);
  // A non-canonical `target` raises #GP(0) at `s`.
  void check_canonical(const Site& s, const Gp& target);

  // Writes all six arithmetic flags from `bits` (no other bits set) as
  // Vcpu::set_arith_flags(kFlagsArith, bits) does; clobbers r8.
  void set_arith_flags(const Gp& bits);
  // ZF, SF and PF of `value` at `size` into `dst` (as flags bits); clobbers host flags.
  void result_flags(const Gp& dst, const Gp& value, unsigned size, uint32_t keep);
  // Whether the flags the instruction at `s` writes can be seen by anything (flag
  // liveness over the block: a later instruction that writes all of them with nothing
  // that reads or leaves in between makes them dead).
  [[nodiscard]] bool flags_needed(const Site& s) const { return flags_needed_[s.index]; }
  static FlagRole flag_role(const GuestInsn& g);
  // Host condition equal to guest condition `cc`, with host flags set up to test it.
  asmjit::x86::CondCode condition(unsigned cc);
  void carry_into(const Gp& dst);  // CF (0 or 1) into dst

  // Block exits: `retired` instructions of this block done, RIP = page offset / register.
  void exit_to(unsigned retired, uint16_t rip_off, int last_off);
  void continue_at(unsigned retired, const Gp& target, int last_off);
  // After the block's last instruction (`last_off`), the one at `off` that crosses into the
  // next page, interpreted by VcpuAccess::run_crossing, then the block after it.
  void run_crossing(unsigned retired, uint16_t off, int last_off);
  // A direct jump to page offset `target` after `retired` instructions: chained (patchable)
  // inside the page, an exit otherwise. `branch`: the instruction at `s` jumps there (and
  // raises #GP if the target is not canonical), else it is the fall-through.
  void goto_offset(const Site& s, unsigned retired, int64_t target, bool branch);
  void store_insn_rip(int last_off);

  // Out-of-line code, emitted after the block's straight line (one section: asmjit
  // relocates absolute targets correctly only in the first), in the order recorded. A
  // record, not a closure: no allocation per slow path (the vector keeps its capacity
  // from block to block).
  struct ColdStub {
    enum class Kind : uint8_t {
      kExit,       // at: exit_to(retired, rip_off, last_off)
      kLoadSlow,   // at: the load_slow stub (site, index), reg = r10, back to `back`
      kStoreSlow,  // at: the store_slow stub (reg stored, site, index), back to `back`
      kRaiseGp0,   // at: #GP(0) at the instruction at rip_off (index before it), fault_exit
      kSlowInsn,   // at: instruction `site` of the block again in mode kSlow, back to `back`
    };
    Kind kind = Kind::kExit;
    asmjit::Label at{}, back{};
    Gp reg{};
    uint32_t site = 0;
    int32_t index = 0;  // retired before the instruction (kExit: retired at the exit)
    uint16_t rip_off = 0;
    int last_off = -1;
    FlagsKnown flags_before{}, flags_after{};  // kSlowInsn: around the hot version
  };
  void cold(const ColdStub& stub) { cold_.push_back(stub); }
  void cold_exit(const asmjit::Label& at, unsigned retired, uint16_t rip_off, int last_off);
  void emit_cold(const ColdStub& stub);

  asmjit::x86::Assembler& a_;
  const VcpuAccess::Layout& l_;
  const Globals& g_;
  std::vector<ColdStub> cold_;
  Block* block_ = nullptr;
  unsigned block_count_ = 0;
  unsigned slots_used_ = 0;
  FlagsKnown flags_;
  enum class Mode : uint8_t { kHot, kSlow, kAccessStub };
  Mode mode_ = Mode::kHot;
  std::span<const GuestInsn> insns_;
  asmjit::Label insn_slow_{};   // kHot: the current instruction's slow version
  bool insn_slow_used_ = false;  // kHot: a TLB miss of it jumps there
  bool insn_stored_ = false;     // kHot: it has made a store (no load may follow)
  void slow_call(bool load, uint32_t site, int32_t index, const Gp& reg);
  std::vector<bool> flags_needed_;
};

}  // namespace densevm::cpu::jit
