/* printf-style formatting shared by the kernel and the workloads (no floating point).
 *
 *   char line[64];
 *   size_t n = fmt_format(line, sizeof line, "page %lu at %#lx\n", idx, addr);
 *
 * Conversions: %c %s %d %i %u %x %p %%, length l/ll/z, flags 0 and #, a field width.
 * Output is truncated to cap-1 bytes and always NUL-terminated; returns bytes written.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

size_t fmt_vformat(char *buf, size_t cap, const char *fmt, va_list ap);
size_t fmt_format(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
