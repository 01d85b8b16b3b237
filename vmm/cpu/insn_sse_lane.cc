// SSE/SSE2 moves of single lanes and masks between XMM and GPRs or memory: PMOVMSKB
// MOVMSKPS MOVMSKPD, PEXTRW PINSRW, MASKMOVDQU. Each follows its SDM Vol 2 page.
#include "vmm/cpu/sse.h"

namespace densevm::cpu {
namespace {

// ---- masks: PMOVMSKB MOVMSKPS MOVMSKPD (into a GPR, zero-extended) ----

enum class Msk : uint8_t { kBytes, kSingles, kDoubles };

template <Msk M>
Exec move_mask(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const __m128i x = to_m128i(xmm(v, d.rm));
  int bits;
  if constexpr (M == Msk::kBytes) bits = _mm_movemask_epi8(x);
  else if constexpr (M == Msk::kSingles) bits = _mm_movemask_ps(_mm_castsi128_ps(x));
  else bits = _mm_movemask_pd(_mm_castsi128_pd(x));
  v.set_reg<8>(d.reg, static_cast<uint64_t>(bits));
  return Exec::kNext;
}

template <Msk M>
bool build_move_mask(const DecodeContext& c, DecodedInsn& d) {
  if (!is_gpr(c, 0) || !is_xmm(c, 1)) return false;
  d.reg = reg_number(c, 0);
  d.rm = reg_number(c, 1);
  d.handler = &move_mask<M>;
  return true;
}

// ---- words: PEXTRW r, xmm, imm8 and PINSRW xmm, r/m16, imm8 ----

Exec pextrw(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  v.set_reg<8>(d.reg, xmm(v, d.rm).lane<uint16_t>(d.imm & 7));
  return Exec::kNext;
}

bool build_pextrw(const DecodeContext& c, DecodedInsn& d) {
  // 66 0F C5 only: the memory form (66 0F 3A 15) is SSE4.1.
  if (c.insn.opcode_map != ZYDIS_OPCODE_MAP_0F || !is_gpr(c, 0) || !is_xmm(c, 1)) return false;
  d.reg = reg_number(c, 0);
  d.rm = reg_number(c, 1);
  d.handler = &pextrw;
  return true;
}

template <bool kMem>
Exec pinsrw(Vcpu& v, const DecodedInsn& d) {
  uint64_t word;
  if (!sse_enabled(v)) return Exec::kFault;
  if constexpr (kMem) {
    if (!v.read<2>(v.effective_address(d), word)) return Exec::kFault;
  } else {
    word = v.reg<2>(d.rm);
  }
  xmm(v, d.reg).set_lane<uint16_t>(d.imm & 7, static_cast<uint16_t>(word));
  return Exec::kNext;
}

bool build_pinsrw(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0) || c.kind[2] != OpKind::kImm) return false;
  d.reg = reg_number(c, 0);
  if (is_gpr(c, 1)) {
    d.rm = reg_number(c, 1);
    d.handler = &pinsrw<false>;
  } else if (is_mem(c, 1, 2)) {
    d.handler = &pinsrw<true>;
  } else {
    return false;
  }
  return true;
}

// ---- MASKMOVDQU xmm1, xmm2: the bytes of xmm1 whose byte in xmm2 has bit 7 set, to [RDI] ----

// Read, merge, write of the 16 bytes: each access faults all-or-nothing, so no byte is
// written unless all can be. Unlike the hardware it touches the unselected bytes (rewriting
// their value): invisible in RAM; MMIO and a fault on an unselected-only page differ.
Exec maskmovdqu(Vcpu& v, const DecodedInsn& d) {
  if (!sse_enabled(v)) return Exec::kFault;
  const Xmm mask = xmm(v, d.rm);
  if (_mm_movemask_epi8(to_m128i(mask)) == 0) return Exec::kNext;
  const uint64_t va = v.effective_address(d);
  Xmm memory;
  if (!v.read_bytes(va, &memory, 16)) return Exec::kFault;
  const __m128i select = _mm_cmplt_epi8(to_m128i(mask), _mm_setzero_si128());
  const __m128i merged = _mm_or_si128(_mm_and_si128(select, to_m128i(xmm(v, d.reg))),
                                      _mm_andnot_si128(select, to_m128i(memory)));
  const Xmm out = to_xmm(merged);
  return v.write_bytes(va, &out, 16) ? Exec::kNext : Exec::kFault;
}

bool build_maskmovdqu(const DecodeContext& c, DecodedInsn& d) {
  if (!is_xmm(c, 0) || !is_xmm(c, 1)) return false;
  d.reg = reg_number(c, 0);
  d.rm = reg_number(c, 1);
  // The destination [RDI] (or [EDI] with 67h) is a hidden operand, segment overrides apply.
  const ZydisDecodedOperand& m = c.ops[2];
  if (m.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
  d.has_mem = true;
  d.base = kRdi;
  d.index = kNoReg;
  d.disp = 0;
  if (m.mem.segment == ZYDIS_REGISTER_FS) d.seg = kSegFs;
  if (m.mem.segment == ZYDIS_REGISTER_GS) d.seg = kSegGs;
  d.handler = &maskmovdqu;
  return true;
}

}  // namespace

void register_sse_lanes() {
  register_builder(ZYDIS_MNEMONIC_PMOVMSKB, &build_move_mask<Msk::kBytes>);
  register_builder(ZYDIS_MNEMONIC_MOVMSKPS, &build_move_mask<Msk::kSingles>);
  register_builder(ZYDIS_MNEMONIC_MOVMSKPD, &build_move_mask<Msk::kDoubles>);
  register_builder(ZYDIS_MNEMONIC_PEXTRW, &build_pextrw);
  register_builder(ZYDIS_MNEMONIC_PINSRW, &build_pinsrw);
  register_builder(ZYDIS_MNEMONIC_MASKMOVDQU, &build_maskmovdqu);
}

}  // namespace densevm::cpu
