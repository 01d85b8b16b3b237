// The x87/SSE side of a differential comparison: FXSAVE images of the host and of the vCPU,
// compared where the SDM defines them: XMM0-15, MXCSR, FCW, FSW (less the condition codes
// the last writer leaves undefined), the abridged tag word and every non-empty ST(i).
// FOP, FIP, FDP (written only on errors on some AMD parts) and MXCSR_MASK (0x2FFFF on AMD,
// 0xFFFF here and on Intel) are implementation-specific and not compared.
//
//   vm.vcpu().state().fpu = fpu_from_image(c.in.fx);
//   std::string d = fx_diff(c, native.regs.fx, vcpu_fx_image(vm.vcpu().state().fpu));
#pragma once

#include <string>

#include "tests/diff/diff_case.h"
#include "vmm/cpu/fpu_state.h"

namespace densevm::diff {

// What FXRSTOR64 of the image loads into the vCPU.
[[nodiscard]] cpu::FpuState fpu_from_image(const FxImage& fx);
// What FXSAVE64 of the vCPU writes.
[[nodiscard]] FxImage vcpu_fx_image(const cpu::FpuState& fpu);

// The image for a failure report: MXCSR, FCW, FSW, FTW, the ST slots and XMM registers.
[[nodiscard]] std::string fx_inputs(const FxImage& fx);

// Lines "    xmm3: native ... vm ...", empty when they agree.
[[nodiscard]] std::string fx_diff(const DiffCase& c, const FxImage& native, const FxImage& vm);

}  // namespace densevm::diff
