// x87 control and state instructions: FNINIT FNCLEX FWAIT FLDCW FNSTCW FNSTSW (AX, m16)
// FNSTENV FLDENV (the 28-byte format) and FXSAVE FXRSTOR (both forms). These touch no
// data register's value, so they are plain copies of FpuState fields; each follows its SDM
// Vol 2 page and Vol 1 §8.1.10 / §10.5.1 for the image layouts.
//
// FCS and FDS are stored as 0: CPUID.(7,0):EBX[13] says so. FXSAVE writes bytes 0..415 of
// its 512 (XMM0-15 in 64-bit mode); 416..511 are left alone, as the SDM reserves them.
#include "vmm/cpu/x87.h"

namespace densevm::cpu {
namespace {

FpuState& fpu(Vcpu& v) { return v.state().fpu; }

Exec fninit(Vcpu& v, const DecodedInsn&) {
  if (!x87_enabled(v)) return Exec::kFault;
  FpuState& f = fpu(v);
  set_top(f, 0);
  f.fcw = kFcwInit;
  f.fsw = 0;
  f.ftw = 0;
  f.fop = 0;
  f.fip = 0;
  f.fdp = 0;
  return Exec::kNext;
}

// C0..C3 are left as they are (the SDM leaves them undefined).
Exec fnclex(Vcpu& v, const DecodedInsn&) {
  if (!x87_enabled(v)) return Exec::kFault;
  fpu(v).fsw &= static_cast<uint16_t>(~(kMxcsrFlags | kFswSf | kFswEs | kFswB));
  return Exec::kNext;
}

// FWAIT: #NM only when both MP and TS are set (SDM Vol 3A Table 2-2).
Exec fwait(Vcpu& v, const DecodedInsn&) {
  if ((v.state().cr0 & (cr0::kMp | cr0::kTs)) == (cr0::kMp | cr0::kTs)) return v.raise(kVecNm);
  return x87_no_pending_error(v) ? Exec::kNext : Exec::kFault;
}

Exec fldcw(Vcpu& v, const DecodedInsn& d) {
  uint64_t cw;
  if (!x87_enabled(v) || !x87_no_pending_error(v)) return Exec::kFault;
  if (!v.read<2>(v.effective_address(d), cw)) return Exec::kFault;
  fpu(v).fcw = normalize_fcw(cw);
  update_error_summary(fpu(v));
  return Exec::kNext;
}

template <bool kStatus>
Exec fnst_word(Vcpu& v, const DecodedInsn& d) {
  if (!x87_enabled(v)) return Exec::kFault;
  const uint16_t w = kStatus ? fpu(v).fsw : fpu(v).fcw;
  return v.write<2>(v.effective_address(d), w) ? Exec::kNext : Exec::kFault;
}

Exec fnstsw_ax(Vcpu& v, const DecodedInsn&) {
  if (!x87_enabled(v)) return Exec::kFault;
  v.set_reg<2>(kRax, fpu(v).fsw);
  return Exec::kNext;
}

// ---- FNSTENV / FLDENV m28 (protected-mode 32-bit layout, SDM Vol 1 Figure 8-9) ----

constexpr unsigned kEnvBytes = 28;

// The full tag of physical register i (SDM Vol 1 §8.1.7): 00 valid, 01 zero, 10 special
// (NaN, infinity, denormal, unsupported), 11 empty.
unsigned full_tag(const FpuState& f, unsigned physical) {
  if (!(f.ftw >> physical & 1)) return 3;
  const unsigned top = (f.fsw & kFswTop) >> 11;
  const uint8_t* st = f.st[(physical - top) & 7];
  uint64_t significand;
  uint16_t sign_exponent;
  std::memcpy(&significand, st, 8);
  std::memcpy(&sign_exponent, st + 8, 2);
  const unsigned exponent = sign_exponent & 0x7fff;
  if (exponent == 0x7fff) return 2;
  if (exponent == 0) return significand == 0 ? 1 : 2;
  return (significand >> 63) ? 0 : 2;
}

Exec fnstenv(Vcpu& v, const DecodedInsn& d) {
  if (!x87_enabled(v)) return Exec::kFault;
  FpuState& f = fpu(v);
  uint32_t tags = 0;
  for (unsigned i = 0; i < 8; ++i) tags |= full_tag(f, i) << (2 * i);
  // The upper halves of the 16-bit fields' dwords are reserved and written as ones.
  const uint32_t env[7] = {0xffff0000u | f.fcw,
                           0xffff0000u | f.fsw,
                           0xffff0000u | tags,
                           static_cast<uint32_t>(f.fip),
                           static_cast<uint32_t>(f.fop) << 16,  // FCS 0
                           static_cast<uint32_t>(f.fdp),
                           0xffff0000u};  // FDS 0
  if (!v.write_bytes(v.effective_address(d), env, kEnvBytes)) return Exec::kFault;
  f.fcw |= kMxcsrFlags;  // FNSTENV then masks every exception
  update_error_summary(f);
  return Exec::kNext;
}

Exec fldenv(Vcpu& v, const DecodedInsn& d) {
  uint32_t env[7];
  if (!x87_enabled(v) || !x87_no_pending_error(v)) return Exec::kFault;
  if (!v.read_bytes(v.effective_address(d), env, kEnvBytes)) return Exec::kFault;
  FpuState& f = fpu(v);
  f.fcw = normalize_fcw(env[0]);
  set_top(f, (env[1] & kFswTop) >> 11);
  f.fsw = static_cast<uint16_t>(env[1]);
  f.ftw = 0;
  for (unsigned i = 0; i < 8; ++i) {
    if (((env[2] >> (2 * i)) & 3) != 3) f.ftw |= static_cast<uint8_t>(1u << i);
  }
  f.fip = env[3];
  f.fop = static_cast<uint16_t>((env[4] >> 16) & 0x7ff);
  f.fdp = env[5];
  update_error_summary(f);
  return Exec::kNext;
}

template <Handler kFn>
bool build_env(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem || c.op_size(0) != kEnvBytes) return false;  // not 66h's 14 bytes
  d.handler = kFn;
  return true;
}

// ---- FXSAVE / FXRSTOR m512 (SDM Vol 2A FXSAVE, Tables 3-53 and 3-56) ----

// kWide: REX.W (FXSAVE64), 64-bit FIP and FDP; otherwise 32-bit ones beside FCS and FDS.
template <bool kWide>
Exec fxsave(Vcpu& v, const DecodedInsn& d) {
  if (!x87_enabled(v)) return Exec::kFault;
  const uint64_t va = v.effective_address(d);
  if (va & 15) return v.raise_gp0();
  FpuState image = fpu(v);
  if constexpr (!kWide) {
    image.fip = static_cast<uint32_t>(image.fip);  // FCS 0 above it
    image.fdp = static_cast<uint32_t>(image.fdp);  // FDS 0
  }
  return v.write_bytes(va, &image, kFxsaveImageBytes) ? Exec::kNext : Exec::kFault;
}

template <bool kWide>
Exec fxrstor(Vcpu& v, const DecodedInsn& d) {
  if (!x87_enabled(v)) return Exec::kFault;
  const uint64_t va = v.effective_address(d);
  if (va & 15) return v.raise_gp0();
  alignas(16) uint8_t raw[512];
  if (!v.read_bytes(va, raw, sizeof raw)) return Exec::kFault;
  FpuState image;
  std::memcpy(static_cast<void*>(&image), raw, kFxsaveImageBytes);
  if (image.mxcsr & ~kMxcsrWritable) return v.raise_gp0();
  FpuState& f = fpu(v);
  f = image;
  f.fcw = normalize_fcw(image.fcw);
  f.reserved5 = 0;
  f.fop &= 0x7ff;
  if constexpr (!kWide) {
    f.fip = static_cast<uint32_t>(image.fip);
    f.fdp = static_cast<uint32_t>(image.fdp);
  }
  f.mxcsr_mask = kMxcsrWritable;
  for (auto& st : f.st) std::memset(st + 10, 0, 6);
  update_error_summary(f);
  return Exec::kNext;
}

template <Handler kFn>
bool build_plain(const DecodeContext&, DecodedInsn& d) {
  d.handler = kFn;
  return true;
}

template <Handler kFn, unsigned kBytes>
bool build_mem(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem || c.op_size(0) != kBytes) return false;
  d.handler = kFn;
  return true;
}

bool build_fnstsw(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] == OpKind::kMem) return build_mem<&fnst_word<true>, 2>(c, d);
  if (c.kind[0] != OpKind::kReg || c.ops[0].reg.value != ZYDIS_REGISTER_AX) return false;
  d.handler = &fnstsw_ax;
  return true;
}

// FXSAVE's memory operand is 512 bytes; Zydis names the REX.W forms FXSAVE64/FXRSTOR64.
template <Handler kFn>
bool build_fx(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem) return false;
  d.handler = kFn;
  return true;
}

}  // namespace

void register_x87_state() {
  register_builder(ZYDIS_MNEMONIC_FNINIT, &build_plain<&fninit>);
  register_builder(ZYDIS_MNEMONIC_FNCLEX, &build_plain<&fnclex>);
  register_builder(ZYDIS_MNEMONIC_FWAIT, &build_plain<&fwait>);
  register_builder(ZYDIS_MNEMONIC_FLDCW, &build_mem<&fldcw, 2>);
  register_builder(ZYDIS_MNEMONIC_FNSTCW, &build_mem<&fnst_word<false>, 2>);
  register_builder(ZYDIS_MNEMONIC_FNSTSW, &build_fnstsw);
  register_builder(ZYDIS_MNEMONIC_FNSTENV, &build_env<&fnstenv>);
  register_builder(ZYDIS_MNEMONIC_FLDENV, &build_env<&fldenv>);
  register_builder(ZYDIS_MNEMONIC_FXSAVE, &build_fx<&fxsave<false>>);
  register_builder(ZYDIS_MNEMONIC_FXSAVE64, &build_fx<&fxsave<true>>);
  register_builder(ZYDIS_MNEMONIC_FXRSTOR, &build_fx<&fxrstor<false>>);
  register_builder(ZYDIS_MNEMONIC_FXRSTOR64, &build_fx<&fxrstor<true>>);
}

void register_x87() {
  register_x87_arithmetic();
  register_x87_state();
}

}  // namespace densevm::cpu
