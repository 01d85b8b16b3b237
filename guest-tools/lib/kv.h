/* Space-separated key=value command lines (the Linux kernel command-line convention).
 *
 *   uint64_t size = 64 << 20;
 *   if (kv_u64(cmdline, "size", &size) < 0) bad_args("size");
 *   char name[32];
 *   kv_str(cmdline, "workload", name, sizeof name);
 *
 * When a key repeats, the last occurrence wins (the VMM appends vm=K at the end).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct kv_token {
  const char *key, *val; /* val points past '=', or at the end of key when there is none */
  size_t key_len, val_len;
};

/* Next token at or after p; returns the position after it, or NULL at the end. */
const char *kv_next(const char *p, struct kv_token *tok);

/* Copies the value of key into val (NUL-terminated, truncated to cap-1). 1 if found. */
int kv_str(const char *line, const char *key, char *val, size_t cap);

/* Parses the value of key: decimal or 0x-hex, with an optional K/M/G (binary) suffix.
 * 1 if found and stored, 0 if absent (out untouched), -1 if malformed. */
int kv_u64(const char *line, const char *key, uint64_t *out);

/* The number parser itself, over exactly n characters. 0 on success, -1 if malformed. */
int parse_u64(const char *s, size_t n, uint64_t *out);
