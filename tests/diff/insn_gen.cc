#include "tests/diff/insn_gen.h"

namespace densevm::diff {

std::string_view group_name(Group g) {
  switch (g) {
    case Group::kDataMove: return "DataMove";
    case Group::kAlu: return "Alu";
    case Group::kUnary: return "Unary";
    case Group::kShift: return "Shift";
    case Group::kMulDiv: return "MulDiv";
    case Group::kBits: return "Bits";
    case Group::kCondition: return "Condition";
    case Group::kBranch: return "Branch";
    case Group::kStack: return "Stack";
    case Group::kString: return "String";
    case Group::kAtomic: return "Atomic";
    case Group::kFlagOps: return "FlagOps";
    case Group::kSequence: return "Sequence";
    case Group::kFault: return "Fault";
    case Group::kSseMove: return "SseMove";
    case Group::kSseInt: return "SseInt";
    case Group::kSseFloatMasked: return "SseFloatMasked";
    case Group::kSseFloatUnmasked: return "SseFloatUnmasked";
    case Group::kSseFault: return "SseFault";
    case Group::kX87Masked: return "X87Masked";
    case Group::kX87Unmasked: return "X87Unmasked";
    case Group::kFpuState: return "FpuState";
  }
  return "?";
}

Outcome expected_outcome(Group g) {
  switch (g) {
    case Group::kFault:
    case Group::kSseFault: return Outcome::kFaults;
    case Group::kSseFloatUnmasked:
    case Group::kX87Unmasked: return Outcome::kEither;
    default: return Outcome::kCompletes;
  }
}

std::vector<DiffCase> generate(Group g, uint64_t seed, size_t per_form) {
  Rng rng(seed ^ (static_cast<uint64_t>(g) * 0x100000001B3));
  std::vector<DiffCase> out;
  switch (g) {
    case Group::kDataMove: gen_data_move(rng, per_form, out); break;
    case Group::kAlu: gen_alu(rng, per_form, out); break;
    case Group::kUnary: gen_unary(rng, per_form, out); break;
    case Group::kShift: gen_shift(rng, per_form, out); break;
    case Group::kMulDiv: gen_mul_div(rng, per_form, out); break;
    case Group::kBits: gen_bits(rng, per_form, out); break;
    case Group::kCondition: gen_condition(rng, per_form, out); break;
    case Group::kBranch: gen_branch(rng, per_form, out); break;
    case Group::kStack: gen_stack(rng, per_form, out); break;
    case Group::kString: gen_string(rng, per_form, out); break;
    case Group::kAtomic: gen_atomic(rng, per_form, out); break;
    case Group::kFlagOps: gen_flag_ops(rng, per_form, out); break;
    case Group::kSequence: gen_sequence(rng, per_form, out); break;
    case Group::kFault: gen_fault(rng, per_form, out); break;
    case Group::kSseMove: gen_sse_move(rng, per_form, out); break;
    case Group::kSseInt: gen_sse_integer(rng, per_form, out); break;
    case Group::kSseFloatMasked: gen_sse_float_masked(rng, per_form, out); break;
    case Group::kSseFloatUnmasked: gen_sse_float_unmasked(rng, per_form, out); break;
    case Group::kSseFault: gen_sse_fault(rng, per_form, out); break;
    case Group::kX87Masked: gen_x87_masked(rng, per_form, out); break;
    case Group::kX87Unmasked: gen_x87_unmasked(rng, per_form, out); break;
    case Group::kFpuState: gen_fpu_state(rng, per_form, out); break;
  }
  return out;
}

}  // namespace densevm::diff
