/* fault: ends in the exception that kind= names, to test fatal-fault reporting (the kernel
 * prints the vector, RIP and CR2 and exits the guest with EXIT_USER_FAULT).
 *   pf: read outside every region   de: divide by zero
 *   ud: execute UD2                  gp: execute CLI in ring 3
 *   wbinvd: WBINVD in ring 3 (#GP)   avx: VMOVAPS, which the vCPU lacks (#UD)
 * These instructions are bytes in rodata, so the image's code itself stays within the ISA
 * subset (check-insns.sh) and only this workload executes them. */
#include "lib/kv.h"
#include "lib/string.h"
#include "ulib.h"
#include "workloads.h"

static const unsigned char kUd2[] = {0x0f, 0x0b};
static const unsigned char kCli[] = {0xfa, 0xc3};
static const unsigned char kWbinvd[] = {0x0f, 0x09, 0xc3};
static const unsigned char kVmovaps[] = {0xc5, 0xf8, 0x28, 0xc1, 0xc3};

int fault_main(const char *cmdline) {
  char kind[8] = "pf";
  kv_str(cmdline, "kind", kind, sizeof kind);
  if (strcmp(kind, "pf") == 0) {
    volatile uint64_t *p = (volatile uint64_t *)(USER_MAP_BASE - 4096);
    return (int)*p;
  }
  if (strcmp(kind, "de") == 0) {
    volatile uint64_t zero = 0;
    return (int)(42 / zero);
  }
  if (strcmp(kind, "ud") == 0) ((void (*)(void))kUd2)();
  if (strcmp(kind, "gp") == 0) ((void (*)(void))kCli)();
  if (strcmp(kind, "wbinvd") == 0) ((void (*)(void))kWbinvd)();
  if (strcmp(kind, "avx") == 0) ((void (*)(void))kVmovaps)();
  uprintf("fault: unknown kind %s\n", kind);
  return EXIT_BAD_ARGS;
}
