// DecodedInsn: the compact record the interpreter executes, built once per instruction
// from Zydis's output and cached per guest-physical code page (decode_cache.h).
//
// Operands are pre-digested: register numbers in GprIndex space, one memory operand as
// base/index/scale/displacement, a sign-extended immediate. The handler is chosen at decode
// time for the exact form and size, so executing is one indirect call.
//
//   DecodedInsn d;
//   if (decode(bytes, n, d) == DecodeStatus::kOk) d.handler(vcpu, d);
#pragma once

#include <cstdint>

namespace densevm::cpu {

class Vcpu;
struct DecodedInsn;

// What a handler tells the run loop.
enum class Exec : uint8_t {
  kNext,   // fell through; RIP already points at the next instruction
  kJump,   // RIP changed (branch, or state the loop must re-examine: CR3, IF, ...)
  kFault,  // an exception is pending (Vcpu::raise); the instruction did not retire
  kHalt,   // HLT: wait for an interrupt
  kStop,   // the VM must stop (Vcpu::stop has the reason)
};

using Handler = Exec (*)(Vcpu&, const DecodedInsn&);

inline constexpr uint8_t kNoReg = 0xff;
inline constexpr uint8_t kRipBase = 0xfe;  // RIP-relative memory operand

enum SegOverride : uint8_t { kSegNone, kSegFs, kSegGs };

struct DecodedInsn {
  Handler handler = nullptr;
  uint64_t imm = 0;   // immediate, sign-extended; relative branches: offset from next RIP
  int64_t disp = 0;   // memory operand displacement
  uint8_t len = 0;
  uint8_t size = 0;   // operand size in bytes
  uint8_t reg = kNoReg;   // first register operand (destination in reg,reg forms)
  uint8_t rm = kNoReg;    // second register operand
  uint8_t base = kNoReg;  // memory operand
  uint8_t index = kNoReg;
  uint8_t scale = 0;      // log2 of the index scale
  uint8_t seg = kSegNone;
  bool addr32 = false;    // 0x67 prefix: 32-bit address arithmetic
  bool has_mem = false;
  uint8_t cond = 0;       // Jcc/SETcc/CMOVcc condition, or instruction-specific detail
  uint8_t aux = 0;        // instruction-specific (source size of MOVZX, REP kind, ...)
  uint16_t mnemonic = 0;  // ZydisMnemonic, for diagnostics
};

}  // namespace densevm::cpu
