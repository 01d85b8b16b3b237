// Access: what a memory access does — the one word the EPT (a violation's access, a
// lookup's rights), the guest walk and the vCPU share.
//
//   EptLookup r = p2m.lookup(Gpa{0x1000}, Access::kWrite);
//   if (access == Access::kExec) error |= kPfFetch;
#pragma once

#include <cstdint>

namespace densevm {

enum class Access : uint8_t { kRead, kWrite, kExec };

}  // namespace densevm
