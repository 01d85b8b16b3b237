// FuzzStats: what a fuzz target ran, printed by fuzz_main.cc's driver at its end, or under
// libFuzzer (which ends with _Exit) at every power-of-two execution from 1024 on, so a run's
// executions and findings can be recorded.
//
//   note_execution();  fuzz_stats().ring3_instructions += n;
//   print_fuzz_stats(stderr);
#pragma once

#include <cstdint>
#include <cstdio>

namespace densevm::testing {

struct FuzzStats {
  uint64_t executions = 0;          // inputs run (each at every CPL the target tries)
  uint64_t ring3_instructions = 0;  // retired at CPL 3
  uint64_t ring0_instructions = 0;
  uint64_t exceptions = 0;          // delivered to the guest's handlers
  uint64_t unimplemented_ud = 0;    // of them, #UD for instructions the vCPU lacks
  uint64_t ring3_stops = 0;         // VM stops of CPL-3 starts for their instructions: must stay 0
  uint64_t ring3_table_stops = 0;   // of CPL-3 starts, for the kernel's hostile page tables
  uint64_t ring0_stops = 0;         // VM stops of CPL-0 starts (triple faults, hostile tables)
  uint64_t translated_instructions = 0;  // of all retired, by translated code (fuzz_translator)
  uint64_t translated_blocks = 0;        // blocks the translator made
  // The input targets (snapshot files, virtqueues): inputs taken whole, and refused.
  uint64_t accepted = 0;            // snapshot files restored; balloon rounds served
  uint64_t refused = 0;             // snapshot files refused (one line); device resets (bad rings)
};

[[nodiscard]] FuzzStats& fuzz_stats();
void print_fuzz_stats(std::FILE* out);
// Counts an execution; with pulses on, prints the stats to stderr at 1024, 2048, 4096...
void note_execution();
void set_fuzz_stats_pulse(bool on);

}  // namespace densevm::testing
