#include "virtio_mmio.h"

#include "console.h"
#include "lib/kv.h"
#include "lib/string.h"

static const char kKey[] = "virtio_mmio.device";

/* Splits "<size>@<base>:<irq>[:<id>]"; 0 on success. */
static int parse_one(const char *s, size_t n, struct virtio_mmio_dev *d) {
  size_t at = 0, colon;
  while (at < n && s[at] != '@') at++;
  if (at == n) return -1;
  colon = at + 1;
  while (colon < n && s[colon] != ':') colon++;
  if (colon == n) return -1;
  size_t end = colon + 1;
  while (end < n && s[end] != ':') end++;
  uint64_t irq;
  if (parse_u64(s, at, &d->size) || parse_u64(s + at + 1, colon - at - 1, &d->base) ||
      parse_u64(s + colon + 1, end - colon - 1, &irq) || irq > 255)
    return -1;
  d->irq = (uint32_t)irq;
  return 0;
}

int virtio_mmio_parse(const char *cmdline, struct virtio_mmio_dev *out, int max) {
  struct kv_token t;
  int count = 0;
  for (const char *p = cmdline; (p = kv_next(p, &t));) {
    if (t.key_len != sizeof kKey - 1 || memcmp(t.key, kKey, t.key_len) != 0) continue;
    struct virtio_mmio_dev d;
    if (parse_one(t.val, t.val_len, &d) != 0) {
      char val[64];
      size_t n = t.val_len < sizeof val - 1 ? t.val_len : sizeof val - 1;
      memcpy(val, t.val, n);
      val[n] = '\0';
      kprintf("densevm-guest: ignoring malformed virtio_mmio.device=%s\n", val);
      continue;
    }
    if (count < max) out[count++] = d;
  }
  return count;
}
