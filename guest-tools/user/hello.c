#include "ulib.h"
#include "workloads.h"

int hello_main(const char *cmdline) {
  (void)cmdline;
  uprintf("hello from densevm guest\n");
  uprintf("hello ok\n");
  return EXIT_OK;
}
