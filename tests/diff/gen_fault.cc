// Exceptions both sides must raise identically, with the faulting instruction's RIP and the
// registers as before it: #DE (zero divisor, quotient overflow), #PF (data and fetch,
// including accesses that straddle the end of the data region and fetches from NX data),
// #GP (non-canonical data and jump targets, privileged instructions at CPL 3, far jumps and
// calls through memory to selectors no CPL-3 code may use), #SS (non-canonical stack) and
// #UD. A #GP's error code is compared too.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {
namespace {

constexpr uint64_t kUnmapped = kDataBase + 0x100000;  // nothing lives there on either side

ZydisEncoderOperand mem_at(CaseBuilder& b, unsigned base, uint64_t address, unsigned width) {
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.base = gpr_register(base, 64);
  op.mem.size = static_cast<ZyanU16>(width / 8);
  b.claim(base);
  b.set(base, address);
  return op;
}

void add_raw(Rng& rng, size_t n, std::vector<DiffCase>& out, const char* label,
             std::vector<uint8_t> bytes) {
  repeat(rng, n, out, [&](CaseBuilder& b) {
    b.random_status_flags();
    b.c().label = label;
    b.c().code = bytes;
    return true;
  });
}

}  // namespace

void gen_fault(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (ZydisMnemonic mn : {ZYDIS_MNEMONIC_DIV, ZYDIS_MNEMONIC_IDIV}) {
    for (unsigned w : kWidths) {
      repeat(rng, n, out, [&](CaseBuilder& b) {  // zero divisor
        b.fixed_reg(kRax, 64);
        b.fixed_reg(kRdx, 64);
        auto s = b.rng().chance(50) ? b.mem(w) : b.reg(w);
        b.override_last(b.last_value() & ~mask_of(w));
        if (!b.emit(mn, {s})) return false;
        b.c().label += " (#DE zero)";
        return true;
      });
      repeat(rng, n, out, [&](CaseBuilder& b) {  // quotient overflow
        b.fixed_reg(kRax, 64);
        b.fixed_reg(kRdx, 64);
        auto s = b.reg(w);
        const uint64_t m = mask_of(w);
        if (mn == ZYDIS_MNEMONIC_DIV) {  // high half >= divisor
          const uint64_t d = (b.last_value() & m) | 1;
          b.override_last(d);
          const uint64_t high = d + b.rng().below(m - d + 1);
          if (w == 8) b.set(kRax, (high & 0xFF) << 8 | b.rng().below(256));
          else b.set(kRdx, high & m);
        } else {  // most negative dividend / -1
          b.override_last(m);
          if (w == 8) b.set(kRax, 0x8000);
          else {
            b.set(kRdx, m);
            b.set(kRax, (uint64_t{1} << (w - 1)));
          }
        }
        if (!b.emit(mn, {s})) return false;
        b.c().label += " (#DE overflow)";
        return true;
      });
    }
  }
  // #PF: loads and stores to unmapped memory, and accesses straddling the data region's end.
  for (unsigned w : kWidths) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto d = b.reg(w);
      const unsigned base = kRbx;
      if (!b.is_free(base)) return false;
      const uint64_t address = b.rng().chance(50) ? kUnmapped + b.rng().below(0x1000)
                                                  : kDataBase + kDataSize - b.rng().below(w / 8);
      if (!b.emit(ZYDIS_MNEMONIC_MOV, {d, mem_at(b, base, address, w)})) return false;
      b.c().label = "load m" + std::to_string(w) + " (#PF)";
      return true;
    });
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto s = b.reg(w);
      if (!b.is_free(kRbx)) return false;
      const uint64_t address = b.rng().chance(50) ? kUnmapped + b.rng().below(0x1000)
                                                  : kDataBase + kDataSize - b.rng().below(w / 8);
      if (!b.emit(ZYDIS_MNEMONIC_MOV, {mem_at(b, kRbx, address, w), s})) return false;
      b.c().label = "store m" + std::to_string(w) + " (#PF)";
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // rep movsb running off the end: partial progress
    for (unsigned r : {kRcx, kRsi, kRdi}) b.claim(r);
    b.set(kRsi, kDataBase + 0x2000);
    b.set(kRdi, kDataBase + kDataSize - 1 - b.rng().below(64));
    b.set(kRcx, 64 + b.rng().below(64));
    b.c().label = "rep movsb (#PF midway)";
    b.raw({0xF3, 0xA4});
    return true;
  });
  // #GP: non-canonical data address.
  repeat(rng, n, out, [&](CaseBuilder& b) {
    auto d = b.reg(64);
    if (!b.is_free(kRbx)) return false;
    const uint64_t address = 0x0000800000000000 + (b.rng().next() & 0x7FFF00000000);
    if (!b.emit(ZYDIS_MNEMONIC_MOV, {d, mem_at(b, kRbx, address, 64)})) return false;
    b.c().label = "load non-canonical (#GP)";
    return true;
  });
  // Control transfers to bad targets: unmapped (#PF fetch), NX data (#PF fetch), and
  // non-canonical (#GP at the jump).
  const uint64_t targets[] = {kUnmapped + 0x10, kDataBase + 0x2000, 0x8000000000001000};
  const char* labels[] = {"jmp to unmapped (#PF fetch)", "jmp into NX data (#PF fetch)",
                          "jmp non-canonical (#GP)"};
  for (unsigned t = 0; t < 3; ++t) {
    repeat(rng, n, out, [&](CaseBuilder& b) {
      auto r = b.reg(64);
      b.override_last(targets[t]);
      if (!b.emit(ZYDIS_MNEMONIC_JMP, {r})) return false;
      b.c().label = labels[t];
      return true;
    });
  }
  repeat(rng, n, out, [&](CaseBuilder& b) {  // #SS: push with a non-canonical rsp
    b.set(kRsp, 0x8000000000000100);
    if (!b.emit(ZYDIS_MNEMONIC_PUSH, {b.reg(64)})) return false;
    b.c().label += " (#SS)";
    return true;
  });
  // Privileged at CPL 3: #GP(0).
  add_raw(rng, n, out, "hlt (#GP)", {0xF4});
  add_raw(rng, n, out, "cli (#GP)", {0xFA});
  add_raw(rng, n, out, "sti (#GP)", {0xFB});
  add_raw(rng, n, out, "in al, dx (#GP)", {0xEC});
  add_raw(rng, n, out, "out dx, al (#GP)", {0xEE});
  add_raw(rng, n, out, "mov rax, cr0 (#GP)", {0x0F, 0x20, 0xC0});
  add_raw(rng, n, out, "mov cr3, rax (#GP)", {0x0F, 0x22, 0xD8});
  add_raw(rng, n, out, "rdmsr (#GP)", {0x0F, 0x32});
  add_raw(rng, n, out, "wrmsr (#GP)", {0x0F, 0x30});
  add_raw(rng, n, out, "invlpg [rax] (#GP)", {0x0F, 0x01, 0x38});
  // Issue 15: these stopped the VM from ring 3.
  add_raw(rng, n, out, "wbinvd (#GP)", {0x0F, 0x09});
  add_raw(rng, n, out, "invd (#GP)", {0x0F, 0x08});
  add_raw(rng, n, out, "clts (#GP)", {0x0F, 0x06});
  add_raw(rng, n, out, "mov dr0, rax (#GP)", {0x0F, 0x23, 0xC0});
  add_raw(rng, n, out, "mov rax, dr7 (#GP)", {0x0F, 0x21, 0xF8});
  add_raw(rng, n, out, "lldt ax (#GP)", {0x0F, 0x00, 0xD0});
  add_raw(rng, n, out, "insb (#GP)", {0x6C});
  add_raw(rng, n, out, "outsb (#GP)", {0x6E});
  add_raw(rng, n, out, "rep outsb (#GP)", {0xF3, 0x6E});
  add_raw(rng, n, out, "clac (#UD)", {0x0F, 0x01, 0xCA});
  add_raw(rng, n, out, "stac (#UD)", {0x0F, 0x01, 0xCB});
  // Far JMP/CALL through [rbx]: a null selector (RPL 0 or 3) is #GP(0); the host's GDT
  // (Linux: 0x10 kernel code, 0x18 kernel data, 0x40 the TSS, limit 0x7f) and the vCPU's
  // empty one give #GP(selector) for the others, for their own reasons. The selector sits
  // at offset 4 and 8, so m16:32 (AMD's reading of REX.W) and m16:64 find the same one.
  for (const unsigned selector : {0x0u, 0x3u, 0x10u, 0x18u, 0x40u, 0x80u}) {
    for (const bool call : {false, true}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        if (!b.is_free(kRbx)) return false;
        b.claim(kRbx);
        b.set(kRbx, kDataBase + 0x100);
        b.patch(0x100, kDataBase, 4);
        b.patch(0x104, selector, 2);
        b.patch(0x108, selector, 2);
        b.c().label = std::string(call ? "rex64 lcall" : "rex64 ljmp") + " *[rbx] to " +
                      std::to_string(selector) + " (#GP)";
        b.raw({0x48, 0xFF, static_cast<uint8_t>(call ? 0x1B : 0x2B)});
        return true;
      });
    }
  }
  // #UD.
  add_raw(rng, n, out, "ud2 (#UD)", {0x0F, 0x0B});
  add_raw(rng, n, out, "push es, invalid in 64-bit mode (#UD)", {0x06});
  add_raw(rng, n, out, "lock add eax, ebx (#UD)", {0xF0, 0x01, 0xD8});
  add_raw(rng, n, out, "lock mov [rax], eax (#UD)", {0xF0, 0x89, 0x00});
}

}  // namespace densevm::diff
