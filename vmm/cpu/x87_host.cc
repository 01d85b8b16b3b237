// The replay thunks of x87.h: one tiny function per x87 encoding, made from templates.
#include <xmmintrin.h>

#include <array>
#include <utility>

#include "vmm/cpu/x87.h"

namespace densevm::cpu {
namespace {

// FXRSTOR, the guest's CF PF ZF (SAHF, from AH), the instruction's two bytes, RFLAGS,
// FXSAVE, FNINIT (no-wait: it clears a pending error without reporting it), and the host's
// control word back. The memory operand is [RDI] (ModRM mod 00, r/m 111). One asm
// statement: nothing runs between these.
template <uint8_t kOpcode, uint8_t kModrm>
void replay(X87Frame& f) {
  uint16_t host_cw;
  asm volatile(
      "fnstcw %[cw]\n\t"
      "fxrstor64 %[img]\n\t"
      "sahf\n\t"
      ".byte %c[op], %c[modrm]\n\t"
      "setz %[zf]\n\tsetp %[pf]\n\tsetc %[cf]\n\t"
      "fxsave64 %[img]\n\t"
      "fninit\n\t"
      "fldcw %[cw]"
      : [img] "+m"(f.image), [cw] "=m"(host_cw), [zf] "=m"(f.zf), [pf] "=m"(f.pf),
        [cf] "=m"(f.cf)
      : [op] "i"(kOpcode), [modrm] "i"(kModrm), "a"(uint64_t{f.flags_in} << 8), "D"(f.mem)
      : "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)",
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

template <uint8_t kOpcode, size_t... kI>
constexpr std::array<X87Thunk, sizeof...(kI)> register_row(std::index_sequence<kI...>) {
  return {&replay<kOpcode, static_cast<uint8_t>(0xc0 + kI)>...};
}

template <size_t... kOp>
constexpr std::array<std::array<X87Thunk, 64>, 8> register_table(std::index_sequence<kOp...>) {
  return {register_row<static_cast<uint8_t>(0xd8 + kOp)>(std::make_index_sequence<64>())...};
}

template <uint8_t kOpcode, size_t... kReg>
constexpr std::array<X87Thunk, 8> memory_row(std::index_sequence<kReg...>) {
  return {&replay<kOpcode, static_cast<uint8_t>(kReg << 3 | 7)>...};
}

template <size_t... kOp>
constexpr std::array<std::array<X87Thunk, 8>, 8> memory_table(std::index_sequence<kOp...>) {
  return {memory_row<static_cast<uint8_t>(0xd8 + kOp)>(std::make_index_sequence<8>())...};
}

constexpr auto kRegisterThunks = register_table(std::make_index_sequence<8>());
constexpr auto kMemoryThunks = memory_table(std::make_index_sequence<8>());

}  // namespace

X87Thunk x87_register_thunk(uint8_t opcode, uint8_t modrm) {
  return kRegisterThunks[(opcode - 0xd8) & 7][modrm & 0x3f];
}

X87Thunk x87_memory_thunk(uint8_t opcode, uint8_t reg) {
  return kMemoryThunks[(opcode - 0xd8) & 7][reg & 7];
}

void load_frame(const FpuState& fpu, X87Frame& f) {
  std::memcpy(f.image, &fpu, offsetof(FpuState, xmm));
  const uint16_t fsw = fpu.fsw & static_cast<uint16_t>(~(kMxcsrFlags | kFswSf | kFswEs | kFswB));
  std::memcpy(f.image + offsetof(FpuState, fsw), &fsw, 2);
  const uint32_t host_mxcsr = _mm_getcsr();
  std::memcpy(f.image + offsetof(FpuState, mxcsr), &host_mxcsr, 4);
}

}  // namespace densevm::cpu
