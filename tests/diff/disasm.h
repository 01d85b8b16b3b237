// Zydis-based views of a DiffCase's code: listing for failure messages and the status flags
// whose final value the SDM defines.
//
//   std::string text = disassemble(c.code);   // one "address: insn  (bytes)" per line
//   uint64_t mask = compared_flags(c);          // kComparedFlags minus undefined ones
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tests/diff/diff_case.h"

namespace densevm::diff {

[[nodiscard]] std::string disassemble(std::span<const uint8_t> code, uint64_t address = kCodeBase);
// The instruction at `address` inside the case's code, or a note why there is none.
[[nodiscard]] std::string instruction_at(const DiffCase& c, uint64_t address);

// kComparedFlags minus the flags left undefined by their last writer in the (linear)
// sequence, adjusted by the case's own undefined/defined masks.
[[nodiscard]] uint64_t compared_flags(const DiffCase& c);

[[nodiscard]] std::string flag_names(uint64_t flags);

// The x87 condition codes (as FSW bits C0 C1 C2 C3) that the last x87 instruction writing
// each leaves undefined, by Zydis's tables.
[[nodiscard]] uint16_t undefined_conditions(const DiffCase& c);

}  // namespace densevm::diff
