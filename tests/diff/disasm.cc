#include "tests/diff/disasm.h"

#include <Zydis/Zydis.h>

#include <cstdio>

namespace densevm::diff {

std::string disassemble(std::span<const uint8_t> code, uint64_t address) {
  std::string out;
  size_t offset = 0;
  while (offset < code.size()) {
    ZydisDisassembledInstruction insn;
    char line[200];
    const uint64_t at = address + offset;
    if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, at, code.data() + offset,
                                            code.size() - offset, &insn))) {
      std::snprintf(line, sizeof line, "    %#llx: (bad) %02x\n", static_cast<unsigned long long>(at),
                    code[offset]);
      out += line;
      ++offset;
      continue;
    }
    std::string bytes;
    for (unsigned i = 0; i < insn.info.length; ++i) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%02X", code[offset + i]);
      bytes += hex;
    }
    std::snprintf(line, sizeof line, "    %#llx: %-40s (%s)\n", static_cast<unsigned long long>(at),
                  insn.text, bytes.c_str());
    out += line;
    offset += insn.info.length;
  }
  return out;
}

std::string instruction_at(const DiffCase& c, uint64_t address) {
  if (address < kCodeBase || address >= kCodeBase + c.code.size()) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "(rip %#llx is outside the snippet)",
                  static_cast<unsigned long long>(address));
    return buf;
  }
  const size_t offset = address - kCodeBase;
  ZydisDisassembledInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDisassembleIntel(ZYDIS_MACHINE_MODE_LONG_64, address,
                                          c.code.data() + offset, c.code.size() - offset, &insn))) {
    return "(undecodable)";
  }
  return insn.text;
}

uint16_t undefined_conditions(const DiffCase& c) {
  static constexpr uint16_t kFsw[4] = {1u << 8, 1u << 9, 1u << 10, 1u << 14};  // C0..C3
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  uint16_t undefined = 0;
  for (size_t offset = 0; offset < c.code.size();) {
    ZydisDecodedInstruction insn;
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, nullptr, c.code.data() + offset,
                                                    c.code.size() - offset, &insn))) {
      break;
    }
    if (insn.fpu_flags != nullptr) {
      const ZydisAccessedFlags& f = *insn.fpu_flags;
      for (unsigned i = 0; i < 4; ++i) {
        if ((f.modified | f.set_0 | f.set_1 | f.undefined) & (1u << i)) undefined &= ~kFsw[i];
        if (f.undefined & (1u << i)) undefined |= kFsw[i];
      }
    }
    offset += insn.length;
  }
  return undefined;
}

std::string flag_names(uint64_t flags) {
  static constexpr struct { uint64_t bit; const char* name; } kNames[] = {
      {kFlagCf, "CF"}, {kFlagPf, "PF"}, {kFlagAf, "AF"}, {kFlagZf, "ZF"},
      {kFlagSf, "SF"}, {kFlagDf, "DF"}, {kFlagOf, "OF"}};
  std::string out;
  for (const auto& n : kNames) {
    if (!(flags & n.bit)) continue;
    if (!out.empty()) out += ' ';
    out += n.name;
  }
  return out.empty() ? "-" : out;
}

}  // namespace densevm::diff
