#include "tests/fuzz/fuzz_stats.h"

namespace densevm::testing {

namespace {
bool g_pulse = false;
}  // namespace

FuzzStats& fuzz_stats() {
  static FuzzStats stats;
  return stats;
}

void note_execution() {
  const uint64_t n = ++fuzz_stats().executions;
  if (g_pulse && n >= 1024 && (n & (n - 1)) == 0) print_fuzz_stats(stderr);
}

void set_fuzz_stats_pulse(bool on) { g_pulse = on; }

void print_fuzz_stats(std::FILE* out) {
  const FuzzStats& s = fuzz_stats();
  std::fprintf(out,
               "executions %llu, instructions at CPL 3 %llu, at CPL 0 %llu, exceptions %llu "
               "(unimplemented #UD %llu), VM stops from CPL 3 %llu (and %llu for hostile page "
               "tables), from CPL 0 %llu; inputs accepted %llu, refused %llu\n",
               static_cast<unsigned long long>(s.executions),
               static_cast<unsigned long long>(s.ring3_instructions),
               static_cast<unsigned long long>(s.ring0_instructions),
               static_cast<unsigned long long>(s.exceptions),
               static_cast<unsigned long long>(s.unimplemented_ud),
               static_cast<unsigned long long>(s.ring3_stops),
               static_cast<unsigned long long>(s.ring3_table_stops),
               static_cast<unsigned long long>(s.ring0_stops),
               static_cast<unsigned long long>(s.accepted),
               static_cast<unsigned long long>(s.refused));
  if (s.translated_instructions != 0) {
    std::fprintf(out, "of the instructions, %llu retired by translated code (%llu blocks)\n",
                 static_cast<unsigned long long>(s.translated_instructions),
                 static_cast<unsigned long long>(s.translated_blocks));
  }
}

}  // namespace densevm::testing
