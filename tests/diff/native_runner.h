// NativeRunner: runs DiffCases on the host CPU in a forked child.
//
// The child maps the code and data regions at their fixed addresses, then for each case
// resets the data region, copies the snippet plus an exit jump, enters it through
// native_trampoline.S and records registers and changed data (in 64-byte chunks) in a
// MAP_SHARED area. A fault becomes an exception outcome (signal, vector, registers at the
// fault); a crash of the whole child marks the remaining cases lost.
//
//   std::vector<NativeOutcome> out = run_native(cases);
//   if (out[0].kind == NativeOutcome::Kind::kCompleted) use(out[0].regs);
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tests/diff/diff_case.h"

namespace densevm::diff {

inline constexpr size_t kChunkSize = 64;

struct DataChunk {
  uint32_t offset = 0;  // from kDataBase, a multiple of kChunkSize
  std::array<uint8_t, kChunkSize> bytes{};
};

struct NativeOutcome {
  enum class Kind { kCompleted, kException, kTimeout, kTooManyWrites, kLost };
  Kind kind = Kind::kLost;
  int signal = 0;            // kException: the host signal
  int si_code = 0;
  uint8_t vector = 0;        // kException: the CPU exception (from the trap number)
  uint64_t error_code = 0;
  uint64_t fault_address = 0;
  uint64_t rip = 0;          // kCompleted: the exit jump; kException: the faulting instruction
  CpuRegs regs;
  std::vector<DataChunk> changed;  // data chunks that differ from initial_data()
};

// Runs every case in one child process. Throws std::runtime_error if the child cannot be
// set up (fixed addresses taken, fork failure).
[[nodiscard]] std::vector<NativeOutcome> run_native(std::span<const DiffCase> cases);

// The bytes appended to each snippet natively: an absolute jump that changes no register
// or flag (`jmp [rip+0]` followed by the 8-byte target).
[[nodiscard]] std::array<uint8_t, 14> native_exit_jump();

[[nodiscard]] std::string describe(const NativeOutcome& out);

}  // namespace densevm::diff
