// Helpers shared by the gen_*.cc instruction-group generators (private to tests/diff).
#pragma once

#include <Zydis/Zydis.h>

#include <cstddef>
#include <vector>

#include "tests/diff/case_builder.h"

namespace densevm::diff {

inline constexpr unsigned kWidths[] = {8, 16, 32, 64};
inline constexpr unsigned kWideWidths[] = {16, 32, 64};

// Adds `n` cases made by build(CaseBuilder&), retrying when it returns false (an operand
// combination the encoder rejects, e.g. AH together with a REX-only register).
template <class Build>
void repeat(Rng& rng, size_t n, std::vector<DiffCase>& out, Build build) {
  size_t made = 0;
  for (size_t attempt = 0; made < n && attempt < 50 * n; ++attempt) {
    CaseBuilder b(rng);
    if (!build(b)) continue;
    out.push_back(b.take());
    ++made;
  }
}

inline uint64_t mask_of(unsigned width) {
  return width >= 64 ? ~uint64_t{0} : (uint64_t{1} << width) - 1;
}

// Condition codes in encoding order (o, no, b, ae, e, ne, be, a, s, ns, p, np, l, ge, le, g).
inline constexpr ZydisMnemonic kJcc[16] = {
    ZYDIS_MNEMONIC_JO,  ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,   ZYDIS_MNEMONIC_JNB,
    ZYDIS_MNEMONIC_JZ,  ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE,  ZYDIS_MNEMONIC_JNBE,
    ZYDIS_MNEMONIC_JS,  ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP,   ZYDIS_MNEMONIC_JNP,
    ZYDIS_MNEMONIC_JL,  ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE,  ZYDIS_MNEMONIC_JNLE};
inline constexpr ZydisMnemonic kSetcc[16] = {
    ZYDIS_MNEMONIC_SETO,  ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,  ZYDIS_MNEMONIC_SETNB,
    ZYDIS_MNEMONIC_SETZ,  ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
    ZYDIS_MNEMONIC_SETS,  ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,  ZYDIS_MNEMONIC_SETNP,
    ZYDIS_MNEMONIC_SETL,  ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE};
inline constexpr ZydisMnemonic kCmovcc[16] = {
    ZYDIS_MNEMONIC_CMOVO,  ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVNB,
    ZYDIS_MNEMONIC_CMOVZ,  ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
    ZYDIS_MNEMONIC_CMOVS,  ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
    ZYDIS_MNEMONIC_CMOVL,  ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE};

}  // namespace densevm::diff
