#include "ulib.h"

#include <stdarg.h>

#include "lib/fmt.h"
#include "lib/kv.h"

static void spawn_trampoline(long (*fn)(uint64_t), uint64_t arg) { sys_exit(fn(arg)); }

long spawn(long (*fn)(uint64_t), uint64_t arg) {
  return syscall3(SYS_SPAWN, (long)spawn_trampoline, (long)fn, (long)arg);
}

void uprintf(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  size_t n = fmt_vformat(line, sizeof line, fmt, ap);
  va_end(ap);
  sys_write(line, n);
}

uint64_t arg_u64(const char *cmdline, const char *key, uint64_t def) {
  uint64_t v = def;
  if (kv_u64(cmdline, key, &v) < 0) {
    uprintf("bad value for %s\n", key);
    sys_exit(EXIT_BAD_ARGS);
  }
  return v;
}
