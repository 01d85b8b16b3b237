// Under libFuzzer (no fuzz_main.cc driver, and an exit that skips atexit): print what ran
// (fuzz_stats.h) at every power-of-two execution, so `make fuzz` can record it.
#include "tests/fuzz/fuzz_stats.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  densevm::testing::set_fuzz_stats_pulse(true);
  return 0;
}
