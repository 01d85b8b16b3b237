// ShadowChecker: audits a ShadowMmu against the guest. Every live shadow entry is compared
// with the guest entry it mirrors, and every leaf with a fresh side-effect-free 2D walk of
// the guest tables through the EPT: same frame, same user and execute rights, and write
// rights only where guest, EPT, A/D emulation and tracking all allow them. Bookkeeping is
// checked too (reverse map, tracking bits, parent links).
//
//   std::vector<std::string> problems = check_shadow(mmu);
//   EXPECT_TRUE(problems.empty()) << problems.front();
//   // Leaves of out-of-sync tables are only checked against the EPT: they may lag the guest.
#pragma once

#include <string>
#include <vector>

#include "mmu/shadow_mmu.h"

namespace densevm {

// One line per difference found; empty when the shadow is consistent. Tests run it after
// every step; it is linear in the number of live shadow entries.
[[nodiscard]] std::vector<std::string> check_shadow(const ShadowMmu& mmu);

}  // namespace densevm
