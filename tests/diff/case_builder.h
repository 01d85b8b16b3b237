// CaseBuilder: assembles one DiffCase from Zydis encoder requests with random operands.
//
// It hands out distinct registers (never RSP, which holds the snippet's stack), gives them
// edge-biased random values, builds memory operands whose effective address lands in the
// data region through a random addressing form, and encodes at the case's code address so
// branches and RIP-relative operands use absolute targets.
//
//   CaseBuilder b(rng);
//   ZydisEncoderOperand dst = b.reg(32), src = b.mem(32);
//   if (b.emit(ZYDIS_MNEMONIC_ADD, {dst, src})) cases.push_back(b.take());
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <vector>

#include "tests/diff/diff_case.h"

namespace densevm::diff {

// splitmix64: small, seedable, identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next();
  uint64_t below(uint64_t bound) { return next() % bound; }
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  uint64_t state_;
};

// Interesting values of a `width`-bit operand (0, 1, -1, sign boundaries, ...), sometimes
// with random bits above the width so partial-register writes are checked too.
uint64_t edge_biased_value(Rng& rng, unsigned width);

class CaseBuilder {
 public:
  explicit CaseBuilder(Rng& rng);

  Rng& rng() { return rng_; }
  DiffCase& c() { return case_; }

  // A free register of `width` bits with a random value; for 8 bits it may be AH..BH unless
  // `allow_high` is false. `index` forces the register (its value is still random).
  ZydisEncoderOperand reg(unsigned width, bool allow_high = true);
  ZydisEncoderOperand fixed_reg(unsigned index, unsigned width);
  // A memory operand of `width` bits at data offset `offset` (random if 0), holding a random
  // value; the address comes from a random addressing form.
  ZydisEncoderOperand mem(unsigned width, uint32_t offset = 0);
  // A memory operand holding `bytes`, at a random offset that is a multiple of `align`.
  ZydisEncoderOperand mem_holding(std::span<const uint8_t> bytes, unsigned align);
  // The data offset of the last memory operand made.
  [[nodiscard]] uint32_t last_offset() const;
  // A free XMM register (or XMM `index`) holding `value` when the case starts.
  ZydisEncoderOperand xmm(std::span<const uint8_t, 16> value);
  ZydisEncoderOperand fixed_xmm(unsigned index, std::span<const uint8_t, 16> value);
  // The case's initial x87/SSE state (FXSAVE image; see diff_case.h for the offsets).
  FxImage& fx() { return case_.in.fx; }
  static ZydisEncoderOperand imm(uint64_t value);
  // An immediate that fits `width` bits (sign-extended imm8 or full width).
  ZydisEncoderOperand random_imm(unsigned width);

  // Replaces the value of the last operand made by reg(), fixed_reg() or mem().
  void override_last(uint64_t value);
  [[nodiscard]] uint64_t last_value() const { return last_value_; }

  void claim(unsigned index) { used_ |= uint16_t(1u << index); }
  [[nodiscard]] bool is_free(unsigned index) const { return !(used_ >> index & 1); }
  void set(unsigned index, uint64_t value) { case_.in.gpr[index] = value; }
  void random_status_flags();
  void patch(uint32_t offset, uint64_t value, unsigned bytes);

  // Encodes without appending (at address `at`); empty if Zydis rejects the combination.
  [[nodiscard]] static std::vector<uint8_t> encode(
      uint64_t at, ZydisMnemonic mnemonic, std::initializer_list<ZydisEncoderOperand> ops,
      ZydisInstructionAttributes prefixes = 0,
      ZydisBranchWidth branch_width = ZYDIS_BRANCH_WIDTH_NONE);
  // Encodes at the current end of the code; false if Zydis rejects the combination. The
  // first emitted instruction names the case unless a label was set.
  [[nodiscard]] bool emit(ZydisMnemonic mnemonic, std::initializer_list<ZydisEncoderOperand> ops,
                          ZydisInstructionAttributes prefixes = 0,
                          ZydisBranchWidth branch_width = ZYDIS_BRANCH_WIDTH_NONE);
  void raw(std::initializer_list<uint8_t> bytes);
  [[nodiscard]] uint64_t here() const { return kCodeBase + case_.code.size(); }

  DiffCase take() { return std::move(case_); }

 private:
  unsigned free_register();
  // The operand addressing data offset `offset` through a random addressing form.
  ZydisEncoderOperand address_of(uint32_t offset, unsigned bytes);

  Rng& rng_;
  DiffCase case_;
  uint16_t used_ = 1u << kRsp;
  uint16_t used_xmm_ = 0;
  uint64_t last_value_ = 0;
  int last_reg_ = -1;  // index of the last register operand, or -1 after mem()
  bool last_high_ = false;  // the last register operand was AH..BH
};

[[nodiscard]] ZydisRegister gpr_register(unsigned index, unsigned width);
[[nodiscard]] std::string operand_label(const ZydisEncoderOperand& op);

}  // namespace densevm::diff
