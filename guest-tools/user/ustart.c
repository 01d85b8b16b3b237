/* Entry of the workload image (pid 1): picks the workload named by workload= (default
 * hello) and exits with its status. */
#include "lib/kv.h"
#include "lib/string.h"
#include "ulib.h"
#include "workloads.h"

struct workload {
  const char *name;
  int (*main)(const char *cmdline);
};

static const struct workload kWorkloads[] = {
    {"hello", hello_main},     {"memfill", memfill_main}, {"ptchurn", ptchurn_main}, {"ptrandom", ptrandom_main},
    {"tlbwalk", tlbwalk_main}, {"idle", idle_main},       {"fault", fault_main},
    {"genid", genid_main},     {"compute", compute_main},
};

__attribute__((noreturn)) void _ustart(const char *cmdline);

void _ustart(const char *cmdline) {
  char name[32] = "hello";
  kv_str(cmdline, "workload", name, sizeof name);
  for (unsigned i = 0; i < sizeof kWorkloads / sizeof kWorkloads[0]; i++)
    if (strcmp(name, kWorkloads[i].name) == 0) sys_exit(kWorkloads[i].main(cmdline));
  uprintf("unknown workload: %s\n", name);
  sys_exit(EXIT_BAD_ARGS);
}
