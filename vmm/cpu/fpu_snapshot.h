// The vCPU's x87/SSE state in a checkpoint (state record version 3; FORMAT.md, vCPU).
//
// Written after the rest of the vCPU record. A version-2 record has none: the vCPU then gets
// FpuState{}, the state FNINIT and reset leave (no guest could use x87 or SSE before 3).
//
//   save_fpu(w, cpu.fpu);
//   cpu.fpu = restore_fpu(r);   // throws StateError on a value no instruction could load
#pragma once

#include "vmm/cpu/fpu_state.h"
#include "vmm/snapshot_state.h"

namespace densevm::cpu {

void save_fpu(StateWriter& w, const FpuState& f);
[[nodiscard]] FpuState restore_fpu(StateReader& r);

}  // namespace densevm::cpu
