/* memfill: fills fresh memory with a chosen mix of zero, shared and unique pages, holds it,
 * verifies it and prints a checksum: the profile dedup and ballooning are measured against.
 *
 * Which kind a page is depends on `image` and its index: exactly zero% / shared% / unique%
 * of every 100 consecutive pages, so VMs running the same image agree on where the shared
 * pages are. Shared content depends only on (image, index), unique content on (seed, index).
 * Each page is an arithmetic sequence of qwords from a per-page start and step: one store
 * and one add per qword. */
#include "lib/kv.h"
#include "mix.h"
#include "ulib.h"
#include "workloads.h"

#define PAGE 4096ull
#define QWORDS 512

enum kind { KIND_ZERO, KIND_SHARED, KIND_UNIQUE };

struct profile {
  uint64_t zero, shared; /* percent; unique is the rest */
  uint64_t image, seed;
  uint64_t round; /* shared pages were rewritten this many times (rewrite=) */
};

static enum kind kind_of(const struct profile *p, uint64_t idx) {
  /* 37 is coprime to 100: idx % 100 -> slot is a bijection within each block. */
  uint64_t rotate = mix64(p->image ^ 0x6b696e64ull ^ (idx / 100) << 8) % 100;
  uint64_t slot = ((idx % 100) * 37 + rotate) % 100;
  if (slot < p->zero) return KIND_ZERO;
  return slot < p->zero + p->shared ? KIND_SHARED : KIND_UNIQUE;
}

/* First qword and step of page idx's sequence; zero pages are (0, 0). */
static void sequence(const struct profile *p, uint64_t idx, uint64_t *start, uint64_t *step) {
  enum kind k = kind_of(p, idx);
  if (k == KIND_ZERO) {
    *start = *step = 0;
    return;
  }
  uint64_t key = k == KIND_SHARED ? mix64(p->image ^ 0x736861726564ull ^ p->round << 48)
                                  : mix64(p->seed ^ 0x756e69717565ull);
  *start = mix64(key + idx);
  *step = mix64(*start) | 1;
}

static void fill_page(uint64_t *q, uint64_t v, uint64_t step) {
  for (int i = 0; i < QWORDS; i += 4) {
    q[i] = v;
    q[i + 1] = v + step;
    q[i + 2] = v + 2 * step;
    q[i + 3] = v + 3 * step;
    v += 4 * step;
  }
}

/* Non-zero if any qword differs from the sequence. Unrolled like fill_page: this loop is
 * most of the workload's instructions. */
static uint64_t check_page(const uint64_t *q, uint64_t v, uint64_t step) {
  uint64_t diff = 0;
  for (int i = 0; i < QWORDS; i += 4) {
    diff |= (q[i] ^ v) | (q[i + 1] ^ (v + step)) | (q[i + 2] ^ (v + 2 * step)) |
            (q[i + 3] ^ (v + 3 * step));
    v += 4 * step;
  }
  return diff;
}

/* Sum of the page's qwords, in closed form: once check_page found the page equal to its
 * sequence, this is the sum of its contents. */
static uint64_t sequence_sum(uint64_t start, uint64_t step) {
  return start * QWORDS + step * (QWORDS * (QWORDS - 1) / 2);
}

static int bad_percentages(uint64_t zero, uint64_t shared, uint64_t unique) {
  return zero > 100 || shared > 100 || unique > 100 || zero + shared + unique != 100;
}

int memfill_main(const char *cmdline) {
  uint64_t size = arg_u64(cmdline, "size", 64ull << 20);
  /* Without any of zero/shared/unique the mix is 30/40/30; otherwise missing ones are 0. */
  uint64_t probe;
  int any = kv_u64(cmdline, "zero", &probe) || kv_u64(cmdline, "shared", &probe) ||
            kv_u64(cmdline, "unique", &probe);
  struct profile p = {
      .zero = arg_u64(cmdline, "zero", any ? 0 : 30),
      .shared = arg_u64(cmdline, "shared", any ? 0 : 40),
      .image = arg_u64(cmdline, "image", 1),
      .seed = arg_u64(cmdline, "seed", arg_u64(cmdline, "vm", 7)),
  };
  uint64_t unique = arg_u64(cmdline, "unique", any ? 0 : 30);
  uint64_t hold = arg_u64(cmdline, "hold", 0), linger = arg_u64(cmdline, "linger", 0);
  uint64_t release = arg_u64(cmdline, "free", 0), rewrite = arg_u64(cmdline, "rewrite", 0);
  uint64_t mark = arg_u64(cmdline, "mark", 0);
  if (!size || bad_percentages(p.zero, p.shared, unique)) {
    uprintf("memfill: need size > 0 and zero+shared+unique = 100\n");
    return EXIT_BAD_ARGS;
  }

  uint64_t pages = (size + PAGE - 1) / PAGE;
  long base = sys_map(0, pages * PAGE);
  if (base < 0) {
    uprintf("memfill: cannot map %lu pages\n", pages);
    return EXIT_WORKLOAD_FAILED;
  }

  for (uint64_t i = 0; i < pages; i++) {
    uint64_t *q = (uint64_t *)(base + i * PAGE), start, step;
    sequence(&p, i, &start, &step);
    if (step) fill_page(q, start, step);
    else page_zero(q); /* written, so the page is resident like the others */
  }

  if (mark) sys_mark(1); /* "filled": where --checkpoint-at marker stops */
  if (hold) sys_sleep(hold);

  /* rewrite=R: R rounds that check each shared page, then rewrite it with the next round's
   * content (the same in every VM of the image, so it can be merged again) and hold again:
   * writes to pages the host may have merged meanwhile. */
  for (uint64_t r = 1; r <= rewrite; r++) {
    struct profile next = {p.zero, p.shared, p.image, p.seed, r};
    for (uint64_t i = 0; i < pages; i++) {
      uint64_t *q = (uint64_t *)(base + i * PAGE), start, step;
      if (kind_of(&p, i) != KIND_SHARED) continue;
      sequence(&p, i, &start, &step);
      if (check_page(q, start, step)) {
        uprintf("memfill bad page %lu in round %lu\n", i, r);
        return EXIT_WORKLOAD_FAILED;
      }
      sequence(&next, i, &start, &step);
      fill_page(q, start, step);
    }
    p.round = r;
    if (hold) sys_sleep(hold);
  }

  uint64_t checksum = 0;
  for (uint64_t i = 0; i < pages; i++) {
    uint64_t start, step;
    sequence(&p, i, &start, &step);
    if (check_page((const uint64_t *)(base + i * PAGE), start, step)) {
      uprintf("memfill bad page %lu\n", i);
      return EXIT_WORKLOAD_FAILED;
    }
    checksum = mix64(checksum ^ sequence_sum(start, step)) + i;
  }
  uprintf("memfill ok %016lx\n", checksum);

  if (release == 1 && sys_unmap((uint64_t)base, pages * PAGE) != 0) {
    uprintf("memfill: unmap failed\n");
    return EXIT_WORKLOAD_FAILED;
  }
  if (linger) sys_sleep(linger);
  return EXIT_OK;
}
