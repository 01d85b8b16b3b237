// x87 arithmetic and data movement, replayed on the host's x87 (x87.h): FLD FST FSTP FILD
// FIST FISTP FISTTP FBLD FBSTP (memory and ST(i)), FADD FSUB FSUBR FMUL FDIV FDIVR and their
// P and integer forms, FCOM FCOMP FCOMPP FUCOM FUCOMP FUCOMPP FICOM FICOMP FTST FXAM, FCOMI
// FCOMIP FUCOMI FUCOMIP, FXCH FCHS FABS FLD1 FLDZ and the other constants, FRNDINT FSQRT
// FSCALE FXTRACT FPREM FPREM1, FFREE FINCSTP FDECSTP FNOP, FCMOVcc (CPUID's FPU and CMOV
// together promise it).
//
// Left out (unsupported, so never replayed): the transcendentals (F2XM1 FYL2X FPTAN FPATAN
// FSIN FCOS FSINCOS FYL2XP1), whose results the SDM leaves to each implementation,
// FSAVE/FRSTOR, and the undocumented aliases. The control and state instructions are in
// insn_x87_state.cc.
#include "vmm/cpu/x87.h"

namespace densevm::cpu {
namespace {

enum X87Attr : uint8_t {
  kLoad = 1 << 0,    // reads its memory operand (d.size bytes)
  kStore = 1 << 1,   // writes it
  kEflags = 1 << 2,  // FCOMI family: ZF PF CF
  kReadsFlags = 1 << 3,  // FCMOVcc: CF PF ZF
};

// Condition codes an instruction leaves undefined or untouched keep their old value, so
// the guest sees the same FSW on any host. In FSW >> 8 position: C0 1, C1 2, C2 4, C3 0x40.
constexpr uint8_t kKeepC023 = 0x01 | 0x04 | 0x40;  // only C1 is defined (arithmetic, loads)
constexpr uint8_t kKeepNone = 0;                   // compares, FXAM, FPREM: all defined
constexpr uint8_t kKeepAll = 0x01 | 0x02 | 0x04 | 0x40;

struct X87Form {
  uint8_t attrs = 0;
  uint8_t mem_bytes = 0;
  uint8_t keep = kKeepC023;
};

// Register forms (ModRM C0..FF) this file replays.
bool register_form(uint8_t op, uint8_t modrm, X87Form& f) {
  const unsigned reg = (modrm >> 3) & 7;
  switch (op) {
    case 0xd8:  // FADD FMUL FCOM FCOMP FSUB FSUBR FDIV FDIVR st(0), st(i)
      if (reg == 2 || reg == 3) f.keep = kKeepNone;
      return true;
    case 0xd9:
      if (modrm <= 0xcf) return true;  // FLD st(i), FXCH st(i)
      switch (modrm) {
        case 0xd0: f.keep = kKeepAll; return true;   // FNOP
        case 0xe4: case 0xe5: case 0xf5: case 0xf8:  // FTST FXAM FPREM1 FPREM
          f.keep = kKeepNone;
          return true;
        case 0xe0: case 0xe1:                         // FCHS FABS
        case 0xe8: case 0xe9: case 0xea: case 0xeb:   // FLD1 FLDL2T FLDL2E FLDPI
        case 0xec: case 0xed: case 0xee:              // FLDLG2 FLDLN2 FLDZ
        case 0xf4: case 0xf6: case 0xf7:              // FXTRACT FDECSTP FINCSTP
        case 0xfa: case 0xfc: case 0xfd:              // FSQRT FRNDINT FSCALE
          return true;
        default: return false;
      }
    case 0xda:
    case 0xdb:
      if (modrm <= 0xdf) {  // FCMOVB FCMOVE FCMOVBE FCMOVU, and the NB NE NBE NU forms
        f.attrs = kReadsFlags;
        return true;
      }
      if (op == 0xda) {
        f.keep = kKeepNone;
        return modrm == 0xe9;  // FUCOMPP
      }
      [[fallthrough]];
    case 0xdf:  // FUCOMI FCOMI (DB E8..F7), FUCOMIP FCOMIP (DF E8..F7): C0 C2 C3 untouched
      if (modrm < 0xe8 || modrm > 0xf7) return false;
      f.attrs = kEflags;
      return true;
    case 0xdc:  // FADD FMUL FSUBR FSUB FDIVR FDIV st(i), st(0); D0..DF are aliases
      return reg != 2 && reg != 3;
    case 0xdd:
      if (modrm <= 0xc7) f.keep = kKeepAll;                     // FFREE
      else if (modrm >= 0xe0 && modrm <= 0xef) f.keep = kKeepNone;  // FUCOM FUCOMP
      else if (modrm < 0xd0 || modrm > 0xdf) return false;      // else FST FSTP st(i)
      return true;
    case 0xde:  // FADDP FMULP FCOMPP FSUBRP FSUBP FDIVRP FDIVP
      if (reg == 2) return false;
      if (reg == 3) {
        f.keep = kKeepNone;
        return modrm == 0xd9;
      }
      return true;
    default:
      return false;
  }
}

// Memory forms (ModRM reg field) this file replays; the state ones are elsewhere.
bool memory_form(uint8_t op, unsigned reg, X87Form& f) {
  auto load = [&](uint8_t bytes) { f.attrs = kLoad; f.mem_bytes = bytes; return true; };
  auto store = [&](uint8_t bytes) { f.attrs = kStore; f.mem_bytes = bytes; return true; };
  switch (op) {
    case 0xd8: case 0xdc: case 0xda: case 0xde: {  // arithmetic and compares: m32 m64 m32i m16i
      if (reg == 2 || reg == 3) f.keep = kKeepNone;
      static constexpr uint8_t kBytes[] = {4, 8, 4, 2};
      return load(kBytes[op == 0xd8 ? 0 : op == 0xdc ? 1 : op == 0xda ? 2 : 3]);
    }
    case 0xd9:  // FLD FST FSTP m32
      if (reg == 0) return load(4);
      return (reg == 2 || reg == 3) && store(4);
    case 0xdb:  // FILD FISTTP FIST FISTP m32, FLD FSTP m80
      if (reg == 0) return load(4);
      if (reg <= 3) return store(4);
      if (reg == 5) return load(10);
      return reg == 7 && store(10);
    case 0xdd:  // FLD FISTTP FST FSTP m64
      if (reg == 0) return load(8);
      return reg <= 3 && store(8);
    case 0xdf:  // FILD FISTTP FIST FISTP m16, FBLD m80, FILD m64, FBSTP m80, FISTP m64
      switch (reg) {
        case 0: return load(2);
        case 1: case 2: case 3: return store(2);
        case 4: return load(10);
        case 5: return load(8);
        case 6: return store(10);
        default: return store(8);
      }
    default:
      return false;
  }
}

// d.imm: the thunk; d.size: memory bytes; d.aux: X87Attr; d.cond: kept C bits (FSW >> 8);
// d.reg, d.rm: opcode & 7 and ModRM, for FOP.
Exec replay(Vcpu& v, const DecodedInsn& d) {
  if (!x87_enabled(v) || !x87_no_pending_error(v)) return Exec::kFault;
  X87Frame f{};
  const uint64_t ea = d.has_mem ? v.effective_address(d) : 0;
  if ((d.aux & kLoad) && !v.read_bytes(ea, f.mem, d.size)) return Exec::kFault;
  FpuState& fpu = v.state().fpu;
  load_frame(fpu, f);
  if (d.aux & kReadsFlags) {  // LAHF's layout: CF bit 0, PF 2, ZF 6 (and bit 1 set)
    const uint64_t rf = v.rflags();
    f.flags_in = static_cast<uint8_t>(0x02 | (rf & (kFlagCf | kFlagPf | kFlagZf)));
  }
  reinterpret_cast<X87Thunk>(d.imm)(f);

  FpuState out = fpu;
  std::memcpy(static_cast<void*>(&out), f.image, offsetof(FpuState, fop));  // FCW FSW FTW
  for (unsigned i = 0; i < 8; ++i) {
    std::memcpy(out.st[i], f.image + offsetof(FpuState, st) + 16 * i, 10);
    std::memset(out.st[i] + 10, 0, 6);
  }
  const uint16_t sticky = kMxcsrFlags | kFswSf;
  const uint16_t raised = out.fsw & sticky;
  const auto keep = static_cast<uint16_t>(d.cond << 8);
  out.fsw = static_cast<uint16_t>((out.fsw & ~keep) | (fpu.fsw & (keep | sticky)));
  update_error_summary(out);
  out.fop = static_cast<uint16_t>(d.reg << 8 | d.rm);
  out.fip = v.instruction_rip();
  if (d.has_mem) out.fdp = ea;

  const uint16_t unmasked = raised & ~fpu.fcw;
  // An unmasked invalid operation, overflow or underflow leaves a memory destination as it
  // was (SDM Vol 1 §8.5.1.2, §8.5.4, §8.5.5); an unmasked inexact result is still stored.
  if ((d.aux & kStore) && !(unmasked & (kMxcsrIe | kMxcsrOe | kMxcsrUe))) {
    if (!v.write_bytes(ea, f.mem, d.size)) return Exec::kFault;
  }
  // FCOMI and friends leave RFLAGS alone on an unmasked invalid operation (SDM Vol 2A FCOMI).
  if ((d.aux & kEflags) && !(unmasked & kMxcsrIe)) {
    v.set_arith_flags(kFlagsArith, (f.zf ? kFlagZf : 0) | (f.pf ? kFlagPf : 0) | (f.cf ? kFlagCf : 0));
  }
  fpu = out;
  return Exec::kNext;
}

bool build_x87(const DecodeContext& c, DecodedInsn& d) {
  if (c.insn.opcode_map != ZYDIS_OPCODE_MAP_DEFAULT || c.insn.opcode < 0xd8 || c.insn.opcode > 0xdf) {
    return false;
  }
  const uint8_t op = c.insn.opcode;
  const auto modrm = static_cast<uint8_t>(c.insn.raw.modrm.mod << 6 | c.insn.raw.modrm.reg << 3 |
                                          c.insn.raw.modrm.rm);
  X87Form f;
  if (c.insn.raw.modrm.mod == 3) {
    if (!register_form(op, modrm, f)) return false;
    d.imm = reinterpret_cast<uint64_t>(x87_register_thunk(op, modrm));
  } else {
    if (!memory_form(op, c.insn.raw.modrm.reg, f)) return false;
    d.imm = reinterpret_cast<uint64_t>(x87_memory_thunk(op, c.insn.raw.modrm.reg));
  }
  d.size = f.mem_bytes;
  d.aux = f.attrs;
  d.cond = f.keep;
  d.reg = op & 7;
  d.rm = modrm;
  d.handler = &replay;
  return true;
}

constexpr ZydisMnemonic kMnemonics[] = {
    ZYDIS_MNEMONIC_FADD,    ZYDIS_MNEMONIC_FADDP,   ZYDIS_MNEMONIC_FIADD,   ZYDIS_MNEMONIC_FMUL,
    ZYDIS_MNEMONIC_FMULP,   ZYDIS_MNEMONIC_FIMUL,   ZYDIS_MNEMONIC_FSUB,    ZYDIS_MNEMONIC_FSUBP,
    ZYDIS_MNEMONIC_FSUBR,   ZYDIS_MNEMONIC_FSUBRP,  ZYDIS_MNEMONIC_FISUB,   ZYDIS_MNEMONIC_FISUBR,
    ZYDIS_MNEMONIC_FDIV,    ZYDIS_MNEMONIC_FDIVP,   ZYDIS_MNEMONIC_FDIVR,   ZYDIS_MNEMONIC_FDIVRP,
    ZYDIS_MNEMONIC_FIDIV,   ZYDIS_MNEMONIC_FIDIVR,  ZYDIS_MNEMONIC_FCOM,    ZYDIS_MNEMONIC_FCOMP,
    ZYDIS_MNEMONIC_FCOMPP,  ZYDIS_MNEMONIC_FICOM,   ZYDIS_MNEMONIC_FICOMP,  ZYDIS_MNEMONIC_FUCOM,
    ZYDIS_MNEMONIC_FUCOMP,  ZYDIS_MNEMONIC_FUCOMPP, ZYDIS_MNEMONIC_FCOMI,   ZYDIS_MNEMONIC_FCOMIP,
    ZYDIS_MNEMONIC_FUCOMI,  ZYDIS_MNEMONIC_FUCOMIP, ZYDIS_MNEMONIC_FTST,    ZYDIS_MNEMONIC_FXAM,
    ZYDIS_MNEMONIC_FLD,     ZYDIS_MNEMONIC_FST,     ZYDIS_MNEMONIC_FSTP,    ZYDIS_MNEMONIC_FILD,
    ZYDIS_MNEMONIC_FIST,    ZYDIS_MNEMONIC_FISTP,   ZYDIS_MNEMONIC_FISTTP,  ZYDIS_MNEMONIC_FBLD,
    ZYDIS_MNEMONIC_FBSTP,   ZYDIS_MNEMONIC_FXCH,    ZYDIS_MNEMONIC_FCHS,    ZYDIS_MNEMONIC_FABS,
    ZYDIS_MNEMONIC_FLD1,    ZYDIS_MNEMONIC_FLDL2T,  ZYDIS_MNEMONIC_FLDL2E,  ZYDIS_MNEMONIC_FLDPI,
    ZYDIS_MNEMONIC_FLDLG2,  ZYDIS_MNEMONIC_FLDLN2,  ZYDIS_MNEMONIC_FLDZ,    ZYDIS_MNEMONIC_FXTRACT,
    ZYDIS_MNEMONIC_FPREM,   ZYDIS_MNEMONIC_FPREM1,  ZYDIS_MNEMONIC_FDECSTP, ZYDIS_MNEMONIC_FINCSTP,
    ZYDIS_MNEMONIC_FSQRT,   ZYDIS_MNEMONIC_FRNDINT, ZYDIS_MNEMONIC_FSCALE,  ZYDIS_MNEMONIC_FFREE,
    ZYDIS_MNEMONIC_FNOP,    ZYDIS_MNEMONIC_FCMOVB,  ZYDIS_MNEMONIC_FCMOVE,  ZYDIS_MNEMONIC_FCMOVBE,
    ZYDIS_MNEMONIC_FCMOVU,  ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNBE,
    ZYDIS_MNEMONIC_FCMOVNU,
};

}  // namespace

void register_x87_arithmetic() {
  for (ZydisMnemonic m : kMnemonics) register_builder(m, &build_x87);
}

}  // namespace densevm::cpu
