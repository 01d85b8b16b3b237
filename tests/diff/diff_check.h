// Runs DiffCases natively and in FlatVm and compares registers, defined flags, data memory
// and exception outcomes: only the bits the SDM defines (see taint.h for how undefined
// flags and results, and whatever is computed from them, are masked).
//
//   GroupReport r = run_group(cases);
//   EXPECT_EQ(r.failed, 0u) << r.summary();
#pragma once

#include <cstddef>
#include <array>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tests/diff/diff_case.h"
#include "tests/diff/native_runner.h"
#include "tests/diff/taint.h"
#include "tests/support/flat_vm.h"

namespace densevm::diff {

// The general registers, flags and RIP after some instructions of a case.
struct TraceStep {
  std::array<uint64_t, kGprCount> gpr{};
  uint64_t rflags = 0;
  uint64_t rip = 0;
};

// One case run in FlatVm, instruction by instruction, with the taint of undefined values.
struct VmResult {
  testing::RunOutcome outcome;
  CpuRegs regs;
  uint64_t rip = 0;
  std::vector<uint8_t> data = std::vector<uint8_t>(kDataSize);
  TaintState taint;
  bool unimplemented = false;  // the #UD was the vCPU's: an instruction it does not implement
  std::vector<TraceStep> trace;  // trace[k]: after k instructions (trace[0]: the inputs)
};

[[nodiscard]] VmResult run_in_vm(const DiffCase& c);

// A FlatVm kept across the cases of a group while they end normally: a new VM per case
// would spend most of the time building the machine. `data` mirrors the VM's data region,
// so only pages that differ from the next case's initial data are rewritten. Any other
// outcome gets a fresh VM for the next case, so leftover vCPU state never spreads.
struct VmCache {
  std::unique_ptr<testing::FlatVm> vm;
  std::vector<uint8_t> data;
};

[[nodiscard]] VmResult run_in_vm_cached(const DiffCase& c, VmCache& cache);
// Loads a case into `vm` (code followed by `terminator`, data, registers, RIP), writing
// only the data pages that differ from `cache_data` (which it updates).
void load_case(testing::FlatVm& vm, const DiffCase& c, std::span<const uint8_t> terminator,
               std::vector<uint8_t>& cache_data);
// Instruction limit of one case.
inline constexpr uint64_t kMaxInstructions = 10000;

// kComparedFlags minus the flags left undefined at the end (by the taint, adjusted by the
// case's own undefined/defined masks).
[[nodiscard]] uint64_t compared_flags(const DiffCase& c, const TaintState& t);

// Empty if FlatVm agrees with the native outcome; otherwise a report with the disassembly,
// the inputs and both results.
[[nodiscard]] std::string check_case(const DiffCase& c, const NativeOutcome& native);

// A one-line digest of a check_case() report: what differed ("rax OF data", "unimplemented
// 'xlat'", "vector native 0 vm 13").
[[nodiscard]] std::string failure_reason(const std::string& report);

struct GroupReport {
  struct LabelStats {
    size_t cases = 0;
    size_t failed = 0;
    std::string first_failure;
    std::map<std::string, size_t> reasons;  // failure_reason() -> count
  };
  size_t cases = 0;
  size_t failed = 0;
  std::map<std::string, LabelStats> by_label;

  // Per failing label: count and its first failure in full.
  [[nodiscard]] std::string summary(size_t max_details = 40) const;
};

[[nodiscard]] GroupReport run_group(std::span<const DiffCase> cases);

}  // namespace densevm::diff
