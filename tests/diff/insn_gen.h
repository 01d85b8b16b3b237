// Generators of differential test cases, one per instruction group.
//
// Every generator is deterministic in its seed and covers each form it knows (operand sizes,
// register/memory/immediate operands, high-byte registers, addressing forms) with `per_form`
// cases of edge-biased random inputs.
//
//   Rng rng(42);
//   std::vector<DiffCase> cases = generate(Group::kAlu, 42, 20);
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tests/diff/case_builder.h"
#include "tests/diff/diff_case.h"

namespace densevm::diff {

enum class Group {
  kDataMove,   // mov (all forms), movzx/movsx/movsxd, lea, xchg, bswap, cbw..cqo, xlat
  kAlu,        // add adc sub sbb and or xor cmp test
  kUnary,      // inc dec neg not
  kShift,      // shl shr sar rol ror rcl rcr shld shrd
  kMulDiv,     // mul imul div idiv (non-faulting)
  kBits,       // bt bts btr btc bsf bsr tzcnt lzcnt popcnt
  kCondition,  // setcc cmovcc
  kBranch,     // jcc jmp call ret
  kStack,      // push pop leave pushfq popfq
  kString,     // movs stos lods cmps scas, rep prefixes, DF=0/1
  kAtomic,     // xchg cmpxchg xadd, lock-prefixed read-modify-write
  kFlagOps,    // clc stc cmc cld std sahf lahf nop
  kSequence,   // random multi-instruction sequences and hand-picked idioms
  kFault,      // #DE #PF #GP #SS #UD raised identically on both sides
  kSseMove,    // movaps..movdqu, movd/movq, movss/movsd, half moves, movmsk, pextrw, ldmxcsr
  kSseInt,     // packed integer arithmetic, logic, compares, unpacks, packs, shuffles, shifts
  kSseFloatMasked,    // float arithmetic, compares, conversions; all MXCSR exceptions masked
  kSseFloatUnmasked,  // the same with exceptions unmasked: #XM or not, as the flags decide
  kSseFault,   // #GP on misaligned m128, #PF across pages, #XM, LDMXCSR/FXRSTOR #GP, #MF
  kX87Masked,    // x87 loads, stores, arithmetic, compares on random stacks, errors masked
  kX87Unmasked,  // the same with x87 exceptions unmasked (the error waits for the next one)
  kFpuState,   // FNINIT FNCLEX FLDCW FNSTSW FNSTENV FLDENV FXSAVE FXRSTOR FWAIT and idioms
};

inline constexpr Group kAllGroups[] = {
    Group::kDataMove, Group::kAlu,    Group::kUnary,  Group::kShift,    Group::kMulDiv,
    Group::kBits,     Group::kCondition, Group::kBranch, Group::kStack, Group::kString,
    Group::kAtomic,   Group::kFlagOps, Group::kSequence, Group::kFault, Group::kSseMove,
    Group::kSseInt,   Group::kSseFloatMasked, Group::kSseFloatUnmasked, Group::kSseFault,
    Group::kX87Masked, Group::kX87Unmasked, Group::kFpuState};

// How a group's cases end natively: completed, raised an exception, or either (the groups
// with unmasked floating-point exceptions).
enum class Outcome { kCompletes, kFaults, kEither };
[[nodiscard]] Outcome expected_outcome(Group g);

[[nodiscard]] std::string_view group_name(Group g);
[[nodiscard]] std::vector<DiffCase> generate(Group g, uint64_t seed, size_t per_form);

// Per-group generators (gen_*.cc).
void gen_data_move(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_alu(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_unary(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_shift(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_mul_div(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_bits(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_condition(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_branch(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_stack(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_string(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_atomic(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_flag_ops(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sequence(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_fault(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sse_move(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sse_integer(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sse_float_masked(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sse_float_unmasked(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_sse_fault(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_x87_masked(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_x87_unmasked(Rng& rng, size_t per_form, std::vector<DiffCase>& out);
void gen_fpu_state(Rng& rng, size_t per_form, std::vector<DiffCase>& out);

}  // namespace densevm::diff
