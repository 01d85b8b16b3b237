// mov (register, memory, immediate, imm64, moffs), movzx/movsx/movsxd, lea, xchg, bswap,
// the sign-extension family and xlat.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

void gen_mov(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned w : kWidths) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w), s = b.reg(w); return b.emit(ZYDIS_MNEMONIC_MOV, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w), s = b.mem(w); return b.emit(ZYDIS_MNEMONIC_MOV, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.mem(w), s = b.reg(w); return b.emit(ZYDIS_MNEMONIC_MOV, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w); return b.emit(ZYDIS_MNEMONIC_MOV, {d, b.random_imm(w)}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.mem(w); return b.emit(ZYDIS_MNEMONIC_MOV, {d, b.random_imm(w)}); });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // B8+r io
    auto d = b.reg(64);
    b.c().label = "mov r64, imm64";
    return b.emit(ZYDIS_MNEMONIC_MOV, {d, CaseBuilder::imm(b.rng().next() | uint64_t{1} << 40)});
  });
  // moffs forms: A0..A3 with a 64-bit absolute address, load and store, every size.
  static constexpr struct { uint8_t prefix, opcode; const char* label; } kMoffs[] = {
      {0, 0xA0, "mov al, moffs8"},     {0x66, 0xA1, "mov ax, moffs16"},
      {0, 0xA1, "mov eax, moffs32"},   {0x48, 0xA1, "mov rax, moffs64"},
      {0, 0xA2, "mov moffs8, al"},     {0x66, 0xA3, "mov moffs16, ax"},
      {0, 0xA3, "mov moffs32, eax"},   {0x48, 0xA3, "mov moffs64, rax"}};
  for (const auto& m : kMoffs) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.c().label = m.label;
      const auto offset = static_cast<uint32_t>(0x1000 + b.rng().below(0x8000));
      b.patch(offset, b.rng().next(), 8);
      if (m.prefix) b.raw({m.prefix});
      b.raw({m.opcode});
      const uint64_t address = kDataBase + offset;
      for (unsigned i = 0; i < 8; ++i) b.raw({static_cast<uint8_t>(address >> (8 * i))});
      return true;
    });
  }
}

void gen_extend(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_MOVZX, ZYDIS_MNEMONIC_MOVSX}) {
    for (unsigned dw : kWideWidths) {
      for (unsigned sw : {8u, 16u}) {
        if (sw >= dw) continue;
        repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(dw), s = b.reg(sw); return b.emit(mn, {d, s}); });
        repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(dw), s = b.mem(sw); return b.emit(mn, {d, s}); });
      }
    }
  }
  repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(64), s = b.reg(32); return b.emit(ZYDIS_MNEMONIC_MOVSXD, {d, s}); });
  repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(64), s = b.mem(32); return b.emit(ZYDIS_MNEMONIC_MOVSXD, {d, s}); });
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE,
                           ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_CQO}) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      b.fixed_reg(kRax, 64);
      b.fixed_reg(kRdx, 64);
      return b.emit(mn, {});
    });
  }
}

void gen_lea(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned w : kWideWidths) {
    repeat(rng, 2 * n, out, [&](CaseBuilder& b) {
      auto d = b.reg(w);
      auto m = b.mem(64);
      m.mem.size = 0;
      // lea computes without accessing memory: any base/index values will do.
      for (unsigned r = 0; r < kGprCount; ++r) {
        if (r != kRsp && b.rng().chance(50)) b.set(r, edge_biased_value(b.rng(), 64));
      }
      b.c().data.clear();
      if (!b.emit(ZYDIS_MNEMONIC_LEA, {d, m})) return false;
      b.c().label = "lea r" + std::to_string(w) + ", m";
      return true;
    });
  }
}

void gen_swap(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned w : kWidths) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w), s = b.reg(w); return b.emit(ZYDIS_MNEMONIC_XCHG, {d, s}); });
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.mem(w), s = b.reg(w); return b.emit(ZYDIS_MNEMONIC_XCHG, {d, s}); });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // 87 C0: xchg eax, eax still zero-extends
    b.fixed_reg(kRax, 64);
    b.c().label = "xchg eax, eax (87 C0)";
    b.raw({0x87, 0xC0});
    return true;
  });
  for (unsigned w : {32u, 64u}) {
    repeat(rng, n, out, [&](CaseBuilder& b) { auto d = b.reg(w); return b.emit(ZYDIS_MNEMONIC_BSWAP, {d}); });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // xlat: al = [rbx + al]
    b.c().label = "xlat";
    b.fixed_reg(kRax, 64);
    b.claim(kRbx);
    const auto table = static_cast<uint32_t>(0x2000 + b.rng().below(0x4000));
    b.set(kRbx, kDataBase + table);
    b.raw({0xD7});
    return true;
  });
}

}  // namespace

void gen_data_move(Rng& rng, size_t per_form, std::vector<DiffCase>& out) {
  gen_mov(rng, per_form, out);
  gen_extend(rng, per_form, out);
  gen_lea(rng, per_form, out);
  gen_swap(rng, per_form, out);
}

}  // namespace densevm::diff
