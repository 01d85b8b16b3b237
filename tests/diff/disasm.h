// Zydis-based views of a DiffCase's code, for failure messages.
//
//   std::string text = disassemble(c.code);   // one "address: insn  (bytes)" per line
//   std::string names = flag_names(kFlagCf | kFlagOf);  // "CF OF"
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tests/diff/diff_case.h"

namespace densevm::diff {

[[nodiscard]] std::string disassemble(std::span<const uint8_t> code, uint64_t address = kCodeBase);
// The instruction at `address` inside the case's code, or a note why there is none.
[[nodiscard]] std::string instruction_at(const DiffCase& c, uint64_t address);

[[nodiscard]] std::string flag_names(uint64_t flags);

// The x87 condition codes (as FSW bits C0 C1 C2 C3) that the last x87 instruction writing
// each leaves undefined, by Zydis's tables.
[[nodiscard]] uint16_t undefined_conditions(const DiffCase& c);

}  // namespace densevm::diff
