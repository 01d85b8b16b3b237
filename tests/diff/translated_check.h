// The differential suite with the translator: each case runs translated (every block at
// first sight), every other case in slices of 1, 2, 3, 5, 7, 64 instructions and the rest,
// the others in one go, and must
// equal the interpreter's run of it bit for bit — registers, flags and RIP at every slice
// end; registers, x87/SSE state, data memory, retired count and outcome at the end. The
// interpreter's run is the one MatchesHostCpu checks against the host CPU.
//
//   GroupReport r = run_group_translated(cases);
//   EXPECT_EQ(r.failed, 0u) << r.summary();
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "tests/diff/diff_check.h"

namespace densevm::diff {

// What translated code did over a group (a check that it ran at all).
struct TranslatedReport {
  GroupReport group;
  uint64_t instructions = 0;  // retired, all told
  uint64_t translated = 0;    // of them, by translated code
  uint64_t entries = 0;       // runs of translated code (a block may fault at its first)
};

[[nodiscard]] TranslatedReport run_group_translated(std::span<const DiffCase> cases);

}  // namespace densevm::diff
