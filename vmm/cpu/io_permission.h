// I/O permission of IN, OUT, INS and OUTS (SDM Vol 1 §19.5): at CPL <= IOPL every port is
// allowed; above it, the port's bits in the TSS I/O permission bitmap decide.
//
//   if (const Exec e = check_io_permission(v, port, 2); e != Exec::kNext) return e;
//   v.bus().port_write(port, 2, value);
#pragma once

#include <cstdint>

#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

// kNext if the access of `size` bytes at `port` is allowed; else kFault with #GP(0) pending
// (or the page fault of reading the TSS).
[[nodiscard]] Exec check_io_permission(Vcpu& v, uint16_t port, unsigned size);

}  // namespace densevm::cpu
