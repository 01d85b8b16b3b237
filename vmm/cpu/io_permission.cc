#include "vmm/cpu/io_permission.h"

namespace densevm::cpu {
namespace {

constexpr uint64_t kIoMapBaseOffset = 0x66;  // u16 in the 64-bit TSS (SDM Vol 3A §8.7)

}  // namespace

// SDM Vol 1 §19.5.2: the bitmap starts at the TSS offset stored at 0x66; bit n is port n,
// and every bit of the accessed ports must be 0. The processor reads the two bytes holding
// them, and both must lie within the TSS limit, else #GP(0); so does a map base at or
// beyond the limit (no bitmap: ring 3 gets no port at all, as our guest kernel wants).
Exec check_io_permission(Vcpu& v, uint16_t port, unsigned size) {
  const CpuState& s = v.state();
  const auto iopl = static_cast<unsigned>((s.rflags & kFlagIopl) >> 12);
  if (s.cpl <= iopl) return Exec::kNext;
  if (s.tss_limit < kIoMapBaseOffset + 1) return v.raise_gp0();
  uint16_t map_base = 0;
  if (!v.read_system(s.tss_base + kIoMapBaseOffset, &map_base, 2)) return Exec::kFault;
  const uint64_t at = uint64_t{map_base} + port / 8;
  if (at + 1 > s.tss_limit) return v.raise_gp0();
  uint16_t bits = 0;
  if (!v.read_system(s.tss_base + at, &bits, 2)) return Exec::kFault;
  const unsigned mask = ((1u << size) - 1) << (port & 7);
  return (bits & mask) != 0 ? v.raise_gp0() : Exec::kNext;
}

}  // namespace densevm::cpu
