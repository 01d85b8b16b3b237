#include "kv.h"

const char *kv_next(const char *p, struct kv_token *tok) {
  while (*p == ' ' || *p == '\t' || *p == '\n') p++;
  if (!*p) return NULL;
  tok->key = p;
  while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '=') p++;
  tok->key_len = (size_t)(p - tok->key);
  if (*p == '=') p++;
  tok->val = p;
  while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
  tok->val_len = (size_t)(p - tok->val);
  return p;
}

static int key_is(const struct kv_token *t, const char *key) {
  size_t i = 0;
  for (; i < t->key_len; i++)
    if (key[i] != t->key[i]) return 0;
  return key[i] == '\0';
}

static int find_last(const char *line, const char *key, struct kv_token *out) {
  struct kv_token t;
  int found = 0;
  for (const char *p = line; (p = kv_next(p, &t));) {
    if (key_is(&t, key)) {
      *out = t;
      found = 1;
    }
  }
  return found;
}

int kv_str(const char *line, const char *key, char *val, size_t cap) {
  struct kv_token t;
  if (!find_last(line, key, &t)) return 0;
  size_t n = t.val_len < cap - 1 ? t.val_len : cap - 1;
  for (size_t i = 0; i < n; i++) val[i] = t.val[i];
  val[n] = '\0';
  return 1;
}

int parse_u64(const char *s, size_t n, uint64_t *out) {
  unsigned base = 10, shift = 0;
  if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s += 2;
    n -= 2;
  } else if (n >= 1) {
    switch (s[n - 1]) {
      case 'k': case 'K': shift = 10; n--; break;
      case 'm': case 'M': shift = 20; n--; break;
      case 'g': case 'G': shift = 30; n--; break;
    }
  }
  if (n == 0) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
    else return -1;
    if (v > (UINT64_MAX - d) / base) return -1;
    v = v * base + d;
  }
  if (shift && v > (UINT64_MAX >> shift)) return -1;
  *out = v << shift;
  return 0;
}

int kv_u64(const char *line, const char *key, uint64_t *out) {
  struct kv_token t;
  if (!find_last(line, key, &t)) return 0;
  return parse_u64(t.val, t.val_len, out) == 0 ? 1 : -1;
}
