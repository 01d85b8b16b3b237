// Shared pieces of the instruction handlers (insn_*.cc): operand forms and the loads and
// stores every handler needs, specialised at compile time for form and size.
//
//   template <unsigned S, Form F> Exec my_op(Vcpu& v, const DecodedInsn& d) {
//     Operand<S, F> op;  if (!op.load(v, d)) return Exec::kFault;
//     return op.store(v, d, op.dst + 1) ? Exec::kNext : Exec::kFault; }
#pragma once

#include <cstdint>

#include "vmm/cpu/decoder.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

// Operand forms: R = register, M = memory, I = immediate; destination first.
enum class Form : uint8_t { kRR, kRM, kMR, kRI, kMI, kR, kM };

// Classifies a one- or two-operand instruction's explicit operands.
[[nodiscard]] inline bool classify(const DecodeContext& c, Form& f) {
  using K = OpKind;
  if (c.form(K::kReg, K::kReg)) f = Form::kRR;
  else if (c.form(K::kReg, K::kMem)) f = Form::kRM;
  else if (c.form(K::kMem, K::kReg)) f = Form::kMR;
  else if (c.form(K::kReg, K::kImm)) f = Form::kRI;
  else if (c.form(K::kMem, K::kImm)) f = Form::kMI;
  else if (c.form(K::kReg)) f = Form::kR;
  else if (c.form(K::kMem)) f = Form::kM;
  else return false;
  return true;
}

[[nodiscard]] inline constexpr bool form_has_mem_dst(Form f) {
  return f == Form::kMR || f == Form::kMI || f == Form::kM;
}

// SF, ZF and PF of a result: the flags most non-lazy flag rules share.
[[nodiscard]] inline uint64_t result_flags(uint64_t res, unsigned size) {
  uint64_t f = 0;
  if ((res & size_mask(size)) == 0) f |= kFlagZf;
  if (res & sign_bit(size)) f |= kFlagSf;
  if (!__builtin_parityll(res & 0xff)) f |= kFlagPf;
  return f;
}

// Destination and source of a form, loaded; store() writes the destination back.
template <unsigned S, Form F>
struct Operand {
  uint64_t dst = 0, src = 0, addr = 0;

  [[nodiscard]] bool load(Vcpu& v, const DecodedInsn& d) {
    if constexpr (F == Form::kRR) {
      dst = v.reg<S>(d.reg);
      src = v.reg<S>(d.rm);
    } else if constexpr (F == Form::kRM) {
      dst = v.reg<S>(d.reg);
      if (!v.read<S>(v.effective_address(d), src)) return false;
    } else if constexpr (F == Form::kMR) {
      addr = v.effective_address(d);
      if (!v.read<S>(addr, dst)) return false;
      src = v.reg<S>(d.reg);
    } else if constexpr (F == Form::kRI) {
      dst = v.reg<S>(d.reg);
      src = d.imm & size_mask(S);
    } else if constexpr (F == Form::kMI) {
      addr = v.effective_address(d);
      if (!v.read<S>(addr, dst)) return false;
      src = d.imm & size_mask(S);
    } else if constexpr (F == Form::kR) {
      dst = v.reg<S>(d.reg);
    } else {
      addr = v.effective_address(d);
      if (!v.read<S>(addr, dst)) return false;
    }
    return true;
  }

  [[nodiscard]] bool store(Vcpu& v, const DecodedInsn& d, uint64_t value) {
    if constexpr (form_has_mem_dst(F)) {
      return v.write<S>(addr, value);
    } else {
      v.set_reg<S>(d.reg, value);
      return true;
    }
  }
};

// Handler for a form chosen at run time, over the four sizes: Fn<S, F>::run.
template <template <unsigned, Form> class Fn, Form F>
Handler sized(unsigned size) {
  switch (size) {
    case 1: return &Fn<1, F>::run;
    case 2: return &Fn<2, F>::run;
    case 4: return &Fn<4, F>::run;
    case 8: return &Fn<8, F>::run;
    default: return nullptr;
  }
}

template <template <unsigned, Form> class Fn>
Handler by_form(Form f, unsigned size) {
  switch (f) {
    case Form::kRR: return sized<Fn, Form::kRR>(size);
    case Form::kRM: return sized<Fn, Form::kRM>(size);
    case Form::kMR: return sized<Fn, Form::kMR>(size);
    case Form::kRI: return sized<Fn, Form::kRI>(size);
    case Form::kMI: return sized<Fn, Form::kMI>(size);
    case Form::kR: return sized<Fn, Form::kR>(size);
    case Form::kM: return sized<Fn, Form::kM>(size);
  }
  return nullptr;
}

// Builds MOV forms that move to or from segment and control registers (insn_system.cc).
[[nodiscard]] bool build_mov_system(const DecodeContext& c, DecodedInsn& d);
// MOV to and from DR0-DR7; build_mov_system hands debug-register forms over (insn_debug.cc).
[[nodiscard]] bool build_mov_debug(const DecodeContext& c, DecodedInsn& d);
// Far JMP, CALL and RET; the near builders hand far forms over (insn_far.cc).
[[nodiscard]] bool build_far_jmp(const DecodeContext& c, DecodedInsn& d);
[[nodiscard]] bool build_far_call(const DecodeContext& c, DecodedInsn& d);
[[nodiscard]] bool build_far_ret(const DecodeContext& c, DecodedInsn& d);

// Groups register_system() registers too.
void register_privilege_transfers();  // CLI STI PUSHF POPF IRETQ SYSCALL SYSRET SWAPGS INT
void register_cache_control();        // WBINVD INVD CLFLUSH fences PREFETCH (insn_cache.cc)
void register_descriptor_insns();     // LLDT SLDT VERR VERW (insn_descriptor.cc)
void register_string_io();            // INS OUTS (insn_string_io.cc)
void register_absent_features();      // VMX SVM SYSENTER XSAVE SMAP...: #UD (insn_absent.cc)

}  // namespace densevm::cpu
