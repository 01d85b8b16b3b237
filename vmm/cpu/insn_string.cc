// String instructions: MOVS STOS LODS CMPS SCAS in every element size, with REP, REPE and
// REPNE, either direction, 64- or 32-bit addressing, and an FS/GS source override.
//
// SDM Vol 2B "REP/REPE/REPZ/REPNE/REPNZ": each iteration does one element and decrements
// rCX; a fault in iteration k leaves rSI/rDI/rCX (and for CMPS/SCAS the flags) as after
// iteration k-1 with RIP at the instruction, so the guest can restart it. With 0x67 the
// instruction walks ESI/EDI/ECX, which wrap at 4 GiB and are written zero-extended.
//
// Forward REP MOVS/STOS run as bulk copies and fills, and forward REPE/REPNE CMPS/SCAS as
// scans, over runs of elements that stay within one source and one destination page,
// through host pointers from the soft TLB. Pages the TLB cannot hand out (device memory,
// write-tracked pages) take the element path; that fills the TLB, so the bulk path picks
// up again at the next element. REP LODS and DF=1 always take the element path.
//
// One handler call does at most kChunkBytes of elements. If the count is not exhausted it
// leaves RIP at the instruction and returns kJump, so the run loop can check its budget and
// interrupts between chunks; each chunk therefore counts as one retired instruction.
#include <algorithm>
#include <cstring>

#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

enum class StrOp : uint8_t { kMovs, kStos, kLods, kCmps, kScas };
enum class Rep : uint8_t { kNone, kRep, kRepe, kRepne };

constexpr uint64_t kChunkBytes = 64 * 1024;

constexpr bool reads_source(StrOp k) {
  return k == StrOp::kMovs || k == StrOp::kLods || k == StrOp::kCmps;
}
constexpr bool uses_destination(StrOp k) { return k != StrOp::kLods; }
constexpr bool compares(StrOp k) { return k == StrOp::kCmps || k == StrOp::kScas; }

// A host pointer for one guest page, kept for the rest of the handler call. Source and
// destination may share a soft-TLB slot and evict each other; the pointer a lookup handed
// out stays valid meanwhile (as for the two halves of Vcpu::access_slow).
struct HostPage {
  uint64_t page = 1;  // guest VA of the page; 1 = none
  uint8_t* host = nullptr;

  [[nodiscard]] uint8_t* at(uint64_t va) const {
    return (va & ~kPageMask) == page ? host + (va & kPageMask) : nullptr;
  }
  uint8_t* lookup(Vcpu& v, uint64_t va, Access access) {
    if (uint8_t* p = at(va)) return p;
    uint8_t* base = v.page_pointer(va, access);
    if (base == nullptr) return nullptr;
    page = va & ~kPageMask;
    host = base;
    return host + (va & kPageMask);
  }
};

// Working copies of rSI, rDI and rCX (already truncated to the address size), committed
// to the vCPU on every way out of the handler.
template <StrOp K, Rep R>
struct Walk {
  uint64_t rsi, rdi, rcx;
  uint64_t src_base;  // FS/GS base of the source; ES and DS are flat in long mode
  uint64_t step;      // +size or -size (DF)
  uint64_t addr_mask;
  bool equal = false;  // the last CMPS/SCAS compared equal
  HostPage src_page, dst_page;  // for the bulk paths

  Walk(Vcpu& v, const DecodedInsn& d, unsigned size) {
    addr_mask = d.addr32 ? 0xffffffffu : ~uint64_t{0};
    rsi = v.gpr(kRsi) & addr_mask;
    rdi = v.gpr(kRdi) & addr_mask;
    rcx = v.gpr(kRcx) & addr_mask;
    src_base = d.seg == kSegFs ? v.state().fs_base : d.seg == kSegGs ? v.state().gs_base : 0;
    step = (v.state().rflags & kFlagDf) ? 0 - uint64_t{size} : uint64_t{size};
  }

  [[nodiscard]] uint64_t source() const { return src_base + rsi; }
  void advance_source(uint64_t elements) { rsi = (rsi + step * elements) & addr_mask; }
  void advance_destination(uint64_t elements) { rdi = (rdi + step * elements) & addr_mask; }

  void commit(Vcpu& v) const {
    if constexpr (reads_source(K)) v.gpr(kRsi) = rsi;
    if constexpr (uses_destination(K)) v.gpr(kRdi) = rdi;
    if constexpr (R != Rep::kNone) v.gpr(kRcx) = rcx;
  }
};

// One element; false when an exception is pending (nothing of this element committed).
template <StrOp K, unsigned S, Rep R>
bool element(Vcpu& v, Walk<K, R>& w) {
  uint64_t a, b;
  if constexpr (K == StrOp::kMovs) {
    if (!v.read<S>(w.source(), a)) return false;
    // Catch the source page now: the destination may evict it from the soft TLB.
    if constexpr (R != Rep::kNone) (void)w.src_page.lookup(v, w.source(), Access::kRead);
    if (!v.write<S>(w.rdi, a)) return false;
  } else if constexpr (K == StrOp::kStos) {
    if (!v.write<S>(w.rdi, v.reg<S>(kRax))) return false;
  } else if constexpr (K == StrOp::kLods) {
    if (!v.read<S>(w.source(), a)) return false;
    v.set_reg<S>(kRax, a);
  } else {
    if constexpr (K == StrOp::kCmps) {
      if (!v.read<S>(w.source(), a)) return false;
      if constexpr (R != Rep::kNone) (void)w.src_page.lookup(v, w.source(), Access::kRead);
    } else {
      a = v.reg<S>(kRax);
    }
    if (!v.read<S>(w.rdi, b)) return false;
    v.set_flags_lazy(FlagOp::kSub, S, a, b, (a - b) & size_mask(S));
    w.equal = a == b;
  }
  if constexpr (reads_source(K)) w.advance_source(1);
  if constexpr (uses_destination(K)) w.advance_destination(1);
  return true;
}

// Bytes from `va` to the end of its page.
uint64_t page_room(uint64_t va) { return kPageSize - (va & kPageMask); }

// Forward REPE/REPNE CMPS/SCAS: n elements at most, up to and including the one that ends
// the repetition.
template <StrOp K, unsigned S, Rep R>
uint64_t bulk_compare(Vcpu& v, Walk<K, R>& w, uint64_t n) {
  const uint8_t* dst = w.dst_page.lookup(v, w.rdi, Access::kRead);
  if (dst == nullptr) return 0;
  const uint8_t* src = nullptr;
  if constexpr (K == StrOp::kCmps) {
    src = w.src_page.lookup(v, w.source(), Access::kRead);
    if (src == nullptr) return 0;
  }
  uint64_t a = v.reg<S>(kRax), b = 0, done = 0;
  while (done < n) {
    if constexpr (K == StrOp::kCmps) std::memcpy(&a, src + done * S, S);
    std::memcpy(&b, dst + done * S, S);
    ++done;
    if ((a == b) != (R == Rep::kRepe)) break;
  }
  v.set_flags_lazy(FlagOp::kSub, S, a, b, (a - b) & size_mask(S));
  w.equal = a == b;
  if constexpr (K == StrOp::kCmps) w.advance_source(done);
  w.advance_destination(done);
  return done;
}

// Forward REP MOVS/STOS: n elements.
template <StrOp K, unsigned S, Rep R>
uint64_t bulk_transfer(Vcpu& v, Walk<K, R>& w, uint64_t n) {
  uint8_t* dst = w.dst_page.lookup(v, w.rdi, Access::kWrite);
  if (dst == nullptr) return 0;
  const uint64_t bytes = n * S;
  if constexpr (K == StrOp::kStos) {
    const uint64_t value = v.reg<S>(kRax);
    if constexpr (S == 1) {
      std::memset(dst, static_cast<int>(value), bytes);
    } else {
      for (uint64_t i = 0; i < bytes; i += S) std::memcpy(dst + i, &value, S);
    }
  } else {
    const uint8_t* src = w.src_page.lookup(v, w.source(), Access::kRead);
    if (src == nullptr) return 0;
    if (dst > src && dst < src + bytes) {
      // Forward overlap: each element must see the ones written before it.
      for (uint64_t i = 0; i < bytes; i += S) std::memmove(dst + i, src + i, S);
    } else {
      std::memmove(dst, src, bytes);
    }
    w.advance_source(n);
  }
  w.advance_destination(n);
  return n;
}

// Forward REP MOVS/STOS/CMPS/SCAS over the elements that stay within the current pages,
// through host pointers. Returns how many elements it did; 0 means "take the element path".
template <StrOp K, unsigned S, Rep R>
uint64_t bulk(Vcpu& v, Walk<K, R>& w, uint64_t limit) {
  uint64_t n = std::min(limit, page_room(w.rdi) / S);
  if constexpr (reads_source(K)) {
    n = std::min(n, page_room(w.source()) / S);
    // With a 32-bit address size, ESI may wrap before the (segment-based) page ends.
    if (w.addr_mask != ~uint64_t{0}) n = std::min(n, (w.addr_mask - w.rsi + 1) / S);
  }
  if (n == 0) return 0;
  if constexpr (compares(K)) {
    return bulk_compare<K, S, R>(v, w, n);
  } else {
    return bulk_transfer<K, S, R>(v, w, n);
  }
}

template <StrOp K, unsigned S, Rep R>
Exec string_op(Vcpu& v, const DecodedInsn& d) {
  Walk<K, R> w(v, d, S);
  if constexpr (R == Rep::kNone) {
    if (!element<K, S, R>(v, w)) return Exec::kFault;
    w.commit(v);
    return Exec::kNext;
  } else {
    if (w.rcx == 0) return Exec::kNext;
    uint64_t budget = kChunkBytes / S;  // elements left in this call
    while (true) {
      uint64_t done = 0;
      if constexpr (K != StrOp::kLods) {
        if (w.step == S) done = bulk<K, S, R>(v, w, std::min(w.rcx, budget));
      }
      if (done == 0) {
        if (!element<K, S, R>(v, w)) {
          w.commit(v);
          return Exec::kFault;
        }
        done = 1;
      }
      w.rcx -= done;
      budget -= done;
      if (w.rcx == 0) break;
      if constexpr (R == Rep::kRepe) {
        if (!w.equal) break;
      }
      if constexpr (R == Rep::kRepne) {
        if (w.equal) break;
      }
      if (budget == 0) {
        w.commit(v);
        v.state().rip = v.instruction_rip();  // run the rest as a new chunk
        return Exec::kJump;
      }
    }
    w.commit(v);
    return Exec::kNext;
  }
}

template <StrOp K, unsigned S>
Handler with_rep(Rep r) {
  switch (r) {
    case Rep::kNone: return &string_op<K, S, Rep::kNone>;
    case Rep::kRep: break;
    case Rep::kRepe:
      if constexpr (compares(K)) return &string_op<K, S, Rep::kRepe>;
      break;
    case Rep::kRepne:
      if constexpr (compares(K)) return &string_op<K, S, Rep::kRepne>;
      break;
  }
  // F3 and F2 both mean plain REP on MOVS/STOS/LODS; CMPS/SCAS have no plain REP.
  if constexpr (compares(K)) return nullptr;
  return &string_op<K, S, Rep::kRep>;
}

template <StrOp K>
bool build_string(const DecodeContext& c, DecodedInsn& d) {
  // MOVSD and CMPSD also name SSE2 instructions (0F map); those are not ours.
  if (c.insn.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT) return false;
  Rep r = Rep::kNone;
  if (c.has(ZYDIS_ATTRIB_HAS_REPE)) r = Rep::kRepe;
  else if (c.has(ZYDIS_ATTRIB_HAS_REPNE)) r = Rep::kRepne;
  else if (c.has(ZYDIS_ATTRIB_HAS_REP)) r = Rep::kRep;
  // The operands are all hidden; the source is the memory operand based on rSI.
  d.seg = kSegNone;
  for (unsigned i = 0; i < c.insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = c.ops[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) continue;
    if (op.mem.base != ZYDIS_REGISTER_RSI && op.mem.base != ZYDIS_REGISTER_ESI) continue;
    if (op.mem.segment == ZYDIS_REGISTER_FS) d.seg = kSegFs;
    if (op.mem.segment == ZYDIS_REGISTER_GS) d.seg = kSegGs;
  }
  switch (d.size) {
    case 1: d.handler = with_rep<K, 1>(r); break;
    case 2: d.handler = with_rep<K, 2>(r); break;
    case 4: d.handler = with_rep<K, 4>(r); break;
    case 8: d.handler = with_rep<K, 8>(r); break;
    default: return false;
  }
  return d.handler != nullptr;
}

}  // namespace

void register_strings() {
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD,
                          ZYDIS_MNEMONIC_MOVSQ}) {
    register_builder(m, &build_string<StrOp::kMovs>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD,
                          ZYDIS_MNEMONIC_STOSQ}) {
    register_builder(m, &build_string<StrOp::kStos>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD,
                          ZYDIS_MNEMONIC_LODSQ}) {
    register_builder(m, &build_string<StrOp::kLods>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD,
                          ZYDIS_MNEMONIC_CMPSQ}) {
    register_builder(m, &build_string<StrOp::kCmps>);
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD,
                          ZYDIS_MNEMONIC_SCASQ}) {
    register_builder(m, &build_string<StrOp::kScas>);
  }
}

}  // namespace densevm::cpu
