#include "tests/diff/case_builder.h"

#include <cstring>

namespace densevm::diff {
namespace {

constexpr uint64_t width_mask(unsigned width) {
  return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
}

// Memory operands live below the stack area, 0x1000..0xD000 of the data region.
constexpr uint32_t kMemLow = 0x1000, kMemHigh = 0xD000;

}  // namespace

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

uint64_t edge_biased_value(Rng& rng, unsigned width) {
  const uint64_t mask = width_mask(width);
  const uint64_t sign = uint64_t{1} << (width - 1);
  const uint64_t edges[] = {0,        1,        2,          mask,       mask - 1,
                            sign,     sign - 1, sign + 1,   sign - 2,   0x7F,
                            0x80,     0xFF,     0x7FFF,     0x8000,     0xFFFF,
                            0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x5555555555555555};
  const uint64_t roll = rng.below(100);
  uint64_t v;
  if (roll < 45) {
    v = edges[rng.below(std::size(edges))] & mask;
  } else if (roll < 60) {
    v = rng.below(65);
  } else {
    return rng.next();
  }
  if (width < 64 && rng.chance(50)) v |= rng.next() & ~mask;  // garbage above the width
  return v;
}

CaseBuilder::CaseBuilder(Rng& rng) : rng_(rng) {
  for (unsigned i = 0; i < kGprCount; ++i) case_.in.gpr[i] = rng_.next();
  // XMM0-15 hold noise unless the case sets them; drawn from its own generator, so the
  // other groups' cases stay what they were before XMM state existed.
  Rng noise(case_.in.gpr[kRax] ^ case_.in.gpr[kRcx]);
  for (size_t i = 0; i < 256; i += 8) {
    const uint64_t v = noise.next();
    std::memcpy(&case_.in.fx[kFxXmm + i], &v, 8);
  }
  case_.in.gpr[kRsp] = kStackTop;
  case_.in.rflags = kRflagsFixed;
}

unsigned CaseBuilder::free_register() {
  for (;;) {
    const auto index = static_cast<unsigned>(rng_.below(kGprCount));
    if (is_free(index)) return index;
  }
}

ZydisRegister gpr_register(unsigned index, unsigned width) {
  switch (width) {
    case 8: return static_cast<ZydisRegister>(index < 4 ? ZYDIS_REGISTER_AL + index
                                              : index < 8 ? ZYDIS_REGISTER_SPL + (index - 4)
                                                          : ZYDIS_REGISTER_R8B + (index - 8));
    case 16: return static_cast<ZydisRegister>(ZYDIS_REGISTER_AX + index);
    case 32: return static_cast<ZydisRegister>(ZYDIS_REGISTER_EAX + index);
    default: return static_cast<ZydisRegister>(ZYDIS_REGISTER_RAX + index);
  }
}

ZydisEncoderOperand CaseBuilder::fixed_reg(unsigned index, unsigned width) {
  claim(index);
  case_.in.gpr[index] = edge_biased_value(rng_, width);
  last_value_ = case_.in.gpr[index];
  last_reg_ = static_cast<int>(index);
  last_high_ = false;
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_REGISTER;
  op.reg.value = gpr_register(index, width);
  return op;
}

ZydisEncoderOperand CaseBuilder::reg(unsigned width, bool allow_high) {
  const unsigned index = free_register();
  ZydisEncoderOperand op = fixed_reg(index, width);
  if (width == 8 && allow_high && index < 4 && rng_.chance(30)) {
    op.reg.value = static_cast<ZydisRegister>(ZYDIS_REGISTER_AH + index);
    case_.in.gpr[index] = rng_.next();  // the interesting byte is bits 8..15
    last_value_ = case_.in.gpr[index] >> 8;
    last_high_ = true;
  }
  return op;
}

void CaseBuilder::override_last(uint64_t value) {
  last_value_ = value;
  if (last_reg_ >= 0) {
    uint64_t& gpr = case_.in.gpr[static_cast<unsigned>(last_reg_)];
    gpr = last_high_ ? (gpr & ~uint64_t{0xFF00}) | (value & 0xFF) << 8 : value;
    return;
  }
  DataPatch& p = case_.data.back();
  std::memcpy(p.bytes.data(), &value, p.bytes.size() > 8 ? 8 : p.bytes.size());
}

void CaseBuilder::patch(uint32_t offset, uint64_t value, unsigned bytes) {
  DataPatch p{offset, std::vector<uint8_t>(bytes)};
  std::memcpy(p.bytes.data(), &value, bytes > 8 ? 8 : bytes);
  case_.data.push_back(std::move(p));
}

ZydisEncoderOperand CaseBuilder::mem(unsigned width, uint32_t offset) {
  if (offset == 0) {
    offset = static_cast<uint32_t>(kMemLow + rng_.below(kMemHigh - kMemLow));
    if (rng_.chance(70)) offset &= ~(width / 8 - 1);  // mostly aligned
  }
  last_value_ = edge_biased_value(rng_, width);
  last_reg_ = -1;
  patch(offset, last_value_, width / 8);
  return address_of(offset, width / 8);
}

ZydisEncoderOperand CaseBuilder::mem_holding(std::span<const uint8_t> bytes, unsigned align) {
  auto offset = static_cast<uint32_t>(kMemLow + rng_.below(kMemHigh - kMemLow));
  offset &= ~(align - 1);
  case_.data.push_back({offset, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  last_reg_ = -1;
  return address_of(offset, static_cast<unsigned>(bytes.size()));
}

uint32_t CaseBuilder::last_offset() const { return case_.data.back().offset; }

ZydisEncoderOperand CaseBuilder::xmm(std::span<const uint8_t, 16> value) {
  for (;;) {
    const auto index = static_cast<unsigned>(rng_.below(16));
    if (!(used_xmm_ >> index & 1)) return fixed_xmm(index, value);
  }
}

ZydisEncoderOperand CaseBuilder::fixed_xmm(unsigned index, std::span<const uint8_t, 16> value) {
  used_xmm_ |= uint16_t(1u << index);
  std::memcpy(&case_.in.fx[kFxXmm + 16 * index], value.data(), 16);
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_REGISTER;
  op.reg.value = static_cast<ZydisRegister>(ZYDIS_REGISTER_XMM0 + index);
  return op;
}

ZydisEncoderOperand CaseBuilder::address_of(uint32_t offset, unsigned bytes) {
  const uint64_t target = kDataBase + offset;
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.size = static_cast<ZyanU16>(bytes);
  const uint64_t form = rng_.below(10);
  if (form == 0) {  // RIP-relative; the encoder takes the absolute target
    op.mem.base = ZYDIS_REGISTER_RIP;
    op.mem.displacement = static_cast<ZyanI64>(target);
    return op;
  }
  if (form == 1) {  // [disp32]
    op.mem.displacement = static_cast<ZyanI64>(target);
    return op;
  }
  const bool addr32 = form == 2;  // 67h: the upper halves of base and index are ignored
  const unsigned addr_width = addr32 ? 32 : 64;
  int64_t disp = 0;
  if (rng_.chance(35)) disp = static_cast<int8_t>(rng_.next());
  else if (rng_.chance(50)) disp = static_cast<int32_t>(rng_.next()) >> 8;
  op.mem.displacement = disp;
  uint64_t rest = target - static_cast<uint64_t>(disp);
  if (rng_.chance(50)) {
    const unsigned index = free_register();
    claim(index);
    const auto scale = static_cast<uint8_t>(1u << rng_.below(4));
    const int64_t index_value = static_cast<int64_t>(rng_.below(0x200)) - 0x100;
    op.mem.index = gpr_register(index, addr_width);
    op.mem.scale = scale;
    case_.in.gpr[index] = static_cast<uint64_t>(index_value);
    rest -= static_cast<uint64_t>(index_value) * scale;
    if (addr32) case_.in.gpr[index] = (case_.in.gpr[index] & 0xFFFFFFFF) | (rng_.next() << 32);
  }
  const unsigned base = free_register();
  claim(base);
  op.mem.base = gpr_register(base, addr_width);
  case_.in.gpr[base] = rest;
  if (addr32) case_.in.gpr[base] = (rest & 0xFFFFFFFF) | (rng_.next() << 32);
  return op;
}

ZydisEncoderOperand CaseBuilder::imm(uint64_t value) {
  ZydisEncoderOperand op{};
  op.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
  op.imm.u = value;
  return op;
}

ZydisEncoderOperand CaseBuilder::random_imm(unsigned width) {
  if (rng_.chance(40)) return imm(static_cast<uint64_t>(static_cast<int8_t>(edge_biased_value(rng_, 8))));
  const unsigned imm_width = width > 32 ? 32 : width;  // 64-bit forms take a sign-extended imm32
  const uint64_t v = edge_biased_value(rng_, imm_width) & width_mask(imm_width);
  const uint64_t sign = uint64_t{1} << (imm_width - 1);
  return imm(v & sign ? v | ~width_mask(imm_width) : v);  // as a signed value
}

void CaseBuilder::random_status_flags() {
  const uint64_t status = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;
  case_.in.rflags = kRflagsFixed | (rng_.next() & status);
}

// "r" + std::to_string(n) trips GCC 12's -Wrestrict false positive at -O3 (GCC bug 105329,
// operator+(const char*, string&&)); appending to a string that holds the prefix does not.
namespace {
std::string sized(char prefix, unsigned bits) {
  std::string s(1, prefix);
  s += std::to_string(bits);
  return s;
}
}  // namespace

std::string operand_label(const ZydisEncoderOperand& op) {
  switch (op.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      const ZydisRegister r = op.reg.value;
      if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return "r8h";
      if (ZydisRegisterGetClass(r) == ZYDIS_REGCLASS_XMM) return "xmm";
      return sized('r', ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r));
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: return sized('m', op.mem.size * 8u);
    case ZYDIS_OPERAND_TYPE_IMMEDIATE:
      return op.imm.s >= -128 && op.imm.s <= 127 ? "imm8" : "imm";
    default: return "?";
  }
}

std::vector<uint8_t> CaseBuilder::encode(uint64_t at, ZydisMnemonic mnemonic,
                                         std::initializer_list<ZydisEncoderOperand> ops,
                                         ZydisInstructionAttributes prefixes,
                                         ZydisBranchWidth branch_width) {
  ZydisEncoderRequest req{};
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = mnemonic;
  req.prefixes = prefixes;
  req.branch_width = branch_width;
  req.operand_count = static_cast<ZyanU8>(ops.size());
  size_t i = 0;
  for (const ZydisEncoderOperand& op : ops) req.operands[i++] = op;
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize length = sizeof buf;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstructionAbsolute(&req, buf, &length, at))) return {};
  return std::vector<uint8_t>(buf, buf + length);
}

bool CaseBuilder::emit(ZydisMnemonic mnemonic, std::initializer_list<ZydisEncoderOperand> ops,
                       ZydisInstructionAttributes prefixes, ZydisBranchWidth branch_width) {
  const std::vector<uint8_t> bytes = encode(here(), mnemonic, ops, prefixes, branch_width);
  if (bytes.empty()) return false;
  case_.code.insert(case_.code.end(), bytes.begin(), bytes.end());
  if (case_.label.empty()) {
    std::string label;
    if (prefixes & ZYDIS_ATTRIB_HAS_LOCK) label += "lock ";
    if (prefixes & ZYDIS_ATTRIB_HAS_REP) label += "rep ";
    if (prefixes & ZYDIS_ATTRIB_HAS_REPE) label += "repe ";
    if (prefixes & ZYDIS_ATTRIB_HAS_REPNE) label += "repne ";
    label += ZydisMnemonicGetString(mnemonic);
    const char* sep = " ";
    for (const ZydisEncoderOperand& op : ops) {
      label += sep + operand_label(op);
      sep = ", ";
    }
    case_.label = label;
  }
  return true;
}

void CaseBuilder::raw(std::initializer_list<uint8_t> bytes) {
  case_.code.insert(case_.code.end(), bytes.begin(), bytes.end());
}

}  // namespace densevm::diff
