#include "vmm/cpu/jit/translator.h"

#include <cstddef>
#include <cstring>

#include "vmm/cpu/decoder.h"

namespace densevm::cpu::jit {

using namespace asmjit;
using namespace asmjit::x86;

namespace {

constexpr int32_t kFrameBytes = 8 * BlockEmitter::kSpillSlots;
static_assert((8 + 6 * 8 + kFrameBytes) % 16 == 0,
              "translated code runs with RSP 16-byte aligned for its calls");

// Flattens `code` at the arena's cursor (where it was assembled to run). False: no room.
bool place(CodeHolder& code, CodeArena& arena, const uint8_t*& at, size_t& bytes) {
  const auto base = reinterpret_cast<uint64_t>(arena.cursor());
  if (code.flatten() != kErrorOk || code.resolveUnresolvedLinks() != kErrorOk ||
      code.relocateToBase(base) != kErrorOk) {
    return false;
  }
  bytes = code.codeSize();
  uint8_t* rx = arena.allocate(bytes);
  if (rx == nullptr) return false;
  if (code.copyFlattenedData(arena.writable(rx), bytes, CopySectionFlags::kPadSectionBuffer) !=
      kErrorOk) {
    return false;
  }
  at = rx;
  return true;
}

}  // namespace

Translator::Translator(const VcpuAccess::Layout& layout, size_t text_bytes)
    : layout_(layout),
      emitter_(assembler_, layout_, globals_),
      text_bytes_(text_bytes),
      text_(new uint8_t[text_bytes]) {}

Translator::~Translator() = default;

bool Translator::emit_stubs(CodeArena& arena) {
  CodeHolder code;
  ErrorRecorder errors;
  code.init(Environment::host(), reinterpret_cast<uint64_t>(arena.cursor()));
  code.setErrorHandler(&errors);
  Assembler a(&code);
  const Label epilogue = a.newLabel(), fault_exit = a.newLabel(), helper_exit = a.newLabel();

  // enter(vcpu, code, page_va, limit): callee-saved registers kept, rbx/r12/r13/r14 set.
  for (const Gp& r : {rbp, rbx, r12, r13, r14, r15}) a.push(r);
  a.sub(rsp, kFrameBytes);
  a.mov(rbx, rdi);
  a.mov(r12, rdx);
  a.mov(r14, rcx);
  a.mov(r13, qword_ptr(rbx, layout_.retired));
  a.jmp(rsi);

  a.bind(epilogue);
  a.mov(qword_ptr(rbx, layout_.retired), r13);
  a.add(rsp, kFrameBytes);
  for (const Gp& r : {r15, r14, r13, r12, rbx, rbp}) a.pop(r);
  a.ret();

  a.bind(fault_exit);  // the helper stored the retired count and RIP
  a.mov(r13, qword_ptr(rbx, layout_.retired));
  a.mov(eax, 1);
  a.jmp(epilogue);

  a.bind(helper_exit);  // exec_insn: 1 = go on from RIP, 2 = end the page run
  a.mov(r13, qword_ptr(rbx, layout_.retired));
  a.dec(eax);
  a.jmp(epilogue);

  // Soft-TLB misses: VcpuAccess::load/store with the block's scratch registers kept. In:
  // rsi = VA, r9d = MemSite, r8 = retired count, r10 = the value to store. Out (load): r10.
  // A fault drops the return address and leaves through fault_exit.
  const Label load_slow = a.newLabel(), store_slow = a.newLabel(), slow_fault = a.newLabel();
  for (const bool load : {true, false}) {
    a.bind(load ? load_slow : store_slow);
    for (const Gp& r : {rax, rcx, rdx, rsi, rdi}) a.push(r);  // RSP 16-byte aligned again
    a.mov(rdi, rbx);
    a.mov(edx, r9d);
    a.mov(rcx, r12);
    if (load) {
      a.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::load)));
      a.mov(r10, rax);
      a.test(rdx, rdx);
    } else {
      a.mov(r9, r10);
      a.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::store)));
      a.test(eax, eax);
    }
    for (const Gp& r : {rdi, rsi, rdx, rcx, rax}) a.pop(r);
    a.mov(rbp, qword_ptr(rbx, layout_.tlb_view));  // BlockEmitter::reload_tlb_view
    a.jz(slow_fault);
    a.ret();
  }
  a.bind(slow_fault);
  a.add(rsp, 8);
  a.jmp(fault_exit);

  // Dispatch: a block left for RIP = rsi (stored, with the retired count in r13) on
  // another page or through an indirect branch. The block there straight away when
  // VcpuAccess::next_block would find it without a call — the target's page fetchable in
  // the soft TLB, its guest-physical address in the cache's dispatch table (live blocks an
  // earlier call found) — else the call, which looks further (and may still find none: rax 0, back
  // to the run loop). Everything it reads is this vCPU's, through rbx: clones run the
  // frozen VM's stub with their own tables.
  const Label dispatch = a.newLabel(), dispatch_call = a.newLabel(), same_page = a.newLabel();
  a.bind(dispatch);
  // A slow access of the branch (CALL's push, RET's pop, JMP m) asked the run loop to look
  // again: it does, as after any other instruction (next_block's test).
  a.cmp(byte_ptr(rbx, layout_.break_inner), 0);
  a.jne(dispatch_call);
  a.mov(rax, rsi);
  a.and_(rax, -4096);
  a.cmp(rax, r12);
  a.je(same_page);
  // Another page: the run loop would look for an interrupt first (next_block's test).
  a.cmp(byte_ptr(rbx, layout_.irq_pending), 0);
  a.jne(dispatch_call);
  a.bind(same_page);
  a.mov(rcx, rsi);
  a.shr(rcx, 12);
  a.and_(ecx, VcpuAccess::kTlbEntries - 1);  // the entry's index
  a.mov(rdx, rcx);
  a.shl(rdx, VcpuAccess::kTlbEntryShift);
  a.add(rdx, qword_ptr(rbx, layout_.tlb_view));
  a.mov(rdi, rsi);
  a.or_(rdi, 0xfff);  // Vcpu::tlb_tag
  a.cmp(rdi, qword_ptr(rdx, VcpuAccess::kTlbExecTag));
  a.jne(dispatch_call);
  a.mov(rdx, qword_ptr(rbx, layout_.tlb_gpa_view));
  a.mov(rdx, qword_ptr(rdx, rcx, 3));  // the guest-physical page (Vcpu::tlb_gpa)
  a.shl(rdx, 12);
  a.mov(ecx, esi);
  a.and_(ecx, 0xfff);
  a.or_(rdx, rcx);
  a.mov(rcx, rdx);  // BlockCache::slot_of
  a.shr(rcx, 12);
  a.xor_(rcx, rdx);
  a.and_(ecx, BlockCache::kRecent - 1);
  a.shl(rcx, 4);
  a.add(rcx, qword_ptr(rbx, layout_.jit_dispatch));
  a.cmp(rdx, qword_ptr(rcx));
  a.jne(dispatch_call);
  a.mov(rcx, qword_ptr(rcx, 8));  // the block's code (BlockCache::note_dispatch)
  a.test(rcx, rcx);
  a.jz(dispatch_call);
  a.inc(qword_ptr(rbx, layout_.jit_dispatched));
  a.mov(r12, rax);
  a.jmp(rcx);
  a.bind(dispatch_call);
  a.mov(rdi, rbx);
  a.mov(rdx, r12);
  a.call(imm(reinterpret_cast<uint64_t>(&VcpuAccess::next_block)));
  const Label no_block = a.newLabel();
  a.test(rax, rax);
  a.jz(no_block);
  a.mov(r12, rdx);
  a.jmp(rax);
  a.bind(no_block);
  a.jmp(epilogue);  // rax is 0: go on from RIP

  const uint8_t* at = nullptr;
  size_t bytes = 0;
  if (errors.error != kErrorOk || !place(code, arena, at, bytes)) return false;
  const auto base = reinterpret_cast<uint64_t>(at);
  enter_ = reinterpret_cast<EnterFn>(base);  // from the integer: a code pointer has no const to cast away
  globals_.epilogue = base + code.labelOffset(epilogue);
  globals_.fault_exit = base + code.labelOffset(fault_exit);
  globals_.helper_exit = base + code.labelOffset(helper_exit);
  globals_.load_slow = base + code.labelOffset(load_slow);
  globals_.store_slow = base + code.labelOffset(store_slow);
  globals_.dispatch = base + code.labelOffset(dispatch);
  return true;
}

Translator::Result Translator::translate(const uint8_t* page, unsigned offset, Block& block,
                                         BlockCache& cache, CodeArena& arena) {
  insns_.clear();
  next_crosses_ = false;
  for (unsigned at = offset; at < 4096 && insns_.size() < kMaxInsns;) {
    GuestInsn& g = insns_.emplace_back();
    // An instruction that continues on the next page, or that the decoder refuses, is the
    // interpreter's (it fetches across the boundary and raises #UD the same way); the
    // block runs one that crosses through the interpreter's handler at its end.
    const DecodeStatus st = decode_instruction(page + at, 4096 - at, g.d, g.z, g.ops);
    if (st != DecodeStatus::kOk) {
      insns_.pop_back();
      next_crosses_ = st == DecodeStatus::kNeedMoreBytes && 4096 - at < 15;
      break;
    }
    g.off = static_cast<uint16_t>(at);
    at += g.d.len;
    if (ends_block(g.z)) break;
  }
  if (insns_.empty()) return Result::kNothing;

  DecodedInsn* records = cache.new_insns(insns_.size());
  for (size_t i = 0; i < insns_.size(); ++i) {
    records[i] = insns_[i].d;
    insns_[i].record = &records[i];
  }

  if (!assemble(block, arena, true)) {
    if (errors_.error != kErrorTooLarge || !assemble(block, arena, false)) {
      code_.reset();
      return Result::kNothing;
    }
  }
  const uint8_t* at = nullptr;
  size_t bytes = 0;
  const bool placed = place(code_, arena, at, bytes);
  code_.reset();  // soft: its zone's blocks stay for the next block
  if (!placed) return Result::kFull;
  block.code = at;
  block.code_bytes = static_cast<uint32_t>(bytes);
  return Result::kOk;
}

bool Translator::assemble(Block& block, CodeArena& arena, bool fixed_buffer) {
  code_.reset();
  errors_.error = kErrorOk;
  code_.init(Environment::host(), reinterpret_cast<uint64_t>(arena.cursor()));
  code_.setErrorHandler(&errors_);
  if (fixed_buffer) {
    // text_ as .text's buffer: asmjit neither frees it (kIsExternal) nor grows it
    // (kIsFixed: emitting past its end fails with kErrorTooLarge). Set before the
    // assembler attaches, which takes its write pointers from the buffer.
    CodeBuffer& buffer = code_.textSection()->buffer();
    buffer._data = text_.get();
    buffer._size = 0;
    buffer._capacity = text_bytes_;
    buffer._flags = CodeBufferFlags::kIsExternal | CodeBufferFlags::kIsFixed;
  }
  if (code_.attach(&assembler_) != kErrorOk) return false;
  emitter_.emit_block(insns_, block, next_crosses_);
  return errors_.error == kErrorOk;
}

}  // namespace densevm::cpu::jit
