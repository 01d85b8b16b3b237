#include "ulib.h"
#include "workloads.h"

/* Halts for ticks=N timer ticks: the guest does nothing a host should pay for. */
int idle_main(const char *cmdline) {
  uint64_t n = arg_u64(cmdline, "ticks", 100);
  sys_sleep(n);
  uprintf("idle ok ticks=%lu\n", n);
  return EXIT_OK;
}
