#include "vmm/cpu/decoder.h"

#include <array>

#include "vmm/cpu/cpu_state.h"

namespace densevm::cpu {
namespace {

using BuilderTable = std::array<Builder, ZYDIS_MNEMONIC_MAX_VALUE + 1>;

BuilderTable& mutable_table() {
  static BuilderTable table{};
  return table;
}

const BuilderTable& builders() {
  static const bool filled = [] {
    register_data_movement();
    register_arithmetic();
    register_shifts();
    register_muldiv();
    register_bit_ops();
    register_control_flow();
    register_strings();
    register_system();
    register_sse();
    register_x87();
    return true;
  }();
  (void)filled;
  return mutable_table();
}

const ZydisDecoder& decoder() {
  static const ZydisDecoder d = [] {
    ZydisDecoder dec;
    ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    // CPUID reports no BMI1, so F3 0F BC must be REP BSF, as on a CPU without TZCNT.
    ZydisDecoderEnableMode(&dec, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
    return dec;
  }();
  return d;
}

// Zydis GPR8 order: AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8B..R15B.
uint8_t map_gpr(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE) return kNoReg;
  if (r == ZYDIS_REGISTER_RIP || r == ZYDIS_REGISTER_EIP) return kRipBase;
  if (ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_GPR8) {
    if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
      return static_cast<uint8_t>(kAh + (r - ZYDIS_REGISTER_AH));
    }
  }
  const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  if (full >= ZYDIS_REGISTER_RAX && full <= ZYDIS_REGISTER_R15) {
    return static_cast<uint8_t>(full - ZYDIS_REGISTER_RAX);
  }
  return kNoReg;
}

uint8_t log2_scale(uint8_t scale) {
  switch (scale) {
    case 2: return 1;
    case 4: return 2;
    case 8: return 3;
    default: return 0;
  }
}

}  // namespace

void register_builder(ZydisMnemonic mnemonic, Builder builder) {
  mutable_table()[mnemonic] = builder;
}

Builder registered_builder(ZydisMnemonic mnemonic) { return mutable_table()[mnemonic]; }

DecodeStatus decode_instruction(const uint8_t* bytes, size_t available, DecodedInsn& out) {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  return decode_instruction(bytes, available, out, insn, ops);
}

DecodeStatus decode_instruction(const uint8_t* bytes, size_t available, DecodedInsn& out,
                                ZydisDecodedInstruction& insn,
                                ZydisDecodedOperand (&ops)[ZYDIS_MAX_OPERAND_COUNT]) {
  const BuilderTable& table = builders();
  const ZyanStatus st = ZydisDecoderDecodeFull(&decoder(), bytes, available, &insn, ops);
  if (st == ZYDIS_STATUS_NO_MORE_DATA) return DecodeStatus::kNeedMoreBytes;
  if (!ZYAN_SUCCESS(st)) return DecodeStatus::kInvalid;

  DecodedInsn d;
  d.len = insn.length;
  d.size = static_cast<uint8_t>(insn.operand_width / 8);
  d.addr32 = insn.address_width == 32;
  d.mnemonic = static_cast<uint16_t>(insn.mnemonic);

  DecodeContext ctx{insn, ops, insn.operand_count_visible, {}};
  unsigned regs_seen = 0;
  for (unsigned i = 0; i < ctx.explicit_count && i < 4; ++i) {
    const ZydisDecodedOperand& op = ops[i];
    switch (op.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER: {
        const uint8_t r = map_gpr(op.reg.value);
        ctx.kind[i] = OpKind::kReg;
        if (r == kNoReg) break;  // segment, control or debug register: builders look at ops
        if (regs_seen == 0) d.reg = r; else d.rm = r;
        ++regs_seen;
        break;
      }
      case ZYDIS_OPERAND_TYPE_MEMORY:
        ctx.kind[i] = OpKind::kMem;
        d.has_mem = true;
        d.base = map_gpr(op.mem.base);
        d.index = map_gpr(op.mem.index);
        d.scale = log2_scale(op.mem.scale);
        d.disp = op.mem.disp.has_displacement ? op.mem.disp.value : 0;
        if (op.mem.segment == ZYDIS_REGISTER_FS) d.seg = kSegFs;
        if (op.mem.segment == ZYDIS_REGISTER_GS) d.seg = kSegGs;
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        ctx.kind[i] = OpKind::kImm;
        d.imm = op.imm.is_signed ? static_cast<uint64_t>(op.imm.value.s) : op.imm.value.u;
        break;
      default:
        ctx.kind[i] = OpKind::kNone;
        out = {.len = d.len, .mnemonic = d.mnemonic};
        return DecodeStatus::kUnsupported;  // far pointers
    }
  }

  const Builder b = table[insn.mnemonic];
  if (b == nullptr || !b(ctx, d) || d.handler == nullptr) {
    out = {.len = d.len, .mnemonic = d.mnemonic};
    return DecodeStatus::kUnsupported;
  }
  out = d;
  return DecodeStatus::kOk;
}

const char* mnemonic_name(uint16_t mnemonic) {
  const char* name = ZydisMnemonicGetString(static_cast<ZydisMnemonic>(mnemonic));
  return name != nullptr ? name : "?";
}

std::string disassemble(const uint8_t* bytes, size_t available, uint64_t rip) {
  ZydisDisassembledInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, rip, bytes, available, &insn))) {
    return "(bad)";
  }
  return insn.text;
}

}  // namespace densevm::cpu
