#include "fmt.h"

#include <stdint.h>

struct out {
  char *buf;
  size_t cap, len;
};

static void put(struct out *o, char c) {
  if (o->len + 1 < o->cap) o->buf[o->len++] = c;
}

static void put_uint(struct out *o, uint64_t v, unsigned base, int width, char pad) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v);
  for (; width > n; width--) put(o, pad);
  while (n) put(o, digits[--n]);
}

size_t fmt_vformat(char *buf, size_t cap, const char *fmt, va_list ap) {
  struct out o = {buf, cap, 0};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      put(&o, *fmt);
      continue;
    }
    fmt++;
    char pad = ' ';
    int alt = 0, width = 0, longs = 0;
    for (;; fmt++) {
      if (*fmt == '0') pad = '0';
      else if (*fmt == '#') alt = 1;
      else break;
    }
    for (; *fmt >= '0' && *fmt <= '9'; fmt++) width = width * 10 + (*fmt - '0');
    for (; *fmt == 'l' || *fmt == 'z'; fmt++) longs++;
    switch (*fmt) {
      case 'c':
        put(&o, (char)va_arg(ap, int));
        break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        for (s = s ? s : "(null)"; *s; s++) put(&o, *s);
        break;
      }
      case 'd':
      case 'i': {
        int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
        if (v < 0) {
          put(&o, '-');
          put_uint(&o, -(uint64_t)v, 10, width ? width - 1 : 0, pad);
        } else {
          put_uint(&o, (uint64_t)v, 10, width, pad);
        }
        break;
      }
      case 'u':
        put_uint(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
        break;
      case 'p':
        alt = 1;
        longs = 1;
        /* fallthrough */
      case 'x':
        if (alt) {
          put(&o, '0');
          put(&o, 'x');
        }
        put_uint(&o, longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
        break;
      case '\0':
        fmt--;
        break;
      default:
        put(&o, *fmt);
    }
  }
  if (cap) buf[o.len] = '\0';
  return o.len;
}

size_t fmt_format(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t n = fmt_vformat(buf, cap, fmt, ap);
  va_end(ap);
  return n;
}
