/* ptrandom: a process that rewrites its own page tables at random. Regions in one 64 MiB
 * window are mapped, unmapped, remapped with another size, and switched read-only and back
 * (SYS_PROTECT), so page tables are created, emptied, freed (and their pages reused as data)
 * and their entries' rights change under a shadow MMU. Every page's contents are checked
 * after every change; the checksum covers every value read, so any wrong translation shows. */
#include "ulib.h"
#include "workloads.h"

#define PAGE 4096ull
#define SLOTS 16
#define WINDOW 0x0000020000000000ull /* 2 TiB: clear of map(0, len) placements */
#define WINDOW_SPANS 32              /* 2 MiB spans: 64 MiB */
#define MAX_PAGES 48

struct slot {
  uint64_t addr, pages, tag;
  int mapped, writable;
};

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static uint64_t value(const struct slot *s, uint64_t page, uint64_t half) {
  return (s->tag * 0x9e3779b97f4a7c15ull) ^ (page << 1) ^ half;
}

static void fill(struct slot *s) {
  for (uint64_t p = 0; p < s->pages; p++)
    for (uint64_t h = 0; h < 2; h++)
      *(volatile uint64_t *)(s->addr + p * PAGE + h * 2048) = value(s, p, h);
}

/* Adds every value to the checksum; returns 0 if one is wrong. */
static int verify(const struct slot *s, uint64_t *sum) {
  for (uint64_t p = 0; p < s->pages; p++) {
    for (uint64_t h = 0; h < 2; h++) {
      uint64_t v = *(volatile uint64_t *)(s->addr + p * PAGE + h * 2048);
      if (v != value(s, p, h)) return 0;
      *sum = (*sum ^ v) * 0x100000001b3ull;
    }
  }
  return 1;
}

static int overlaps(const struct slot *slots, int self, uint64_t addr, uint64_t pages) {
  for (int i = 0; i < SLOTS; i++) {
    if (i == self || !slots[i].mapped) continue;
    if (addr < slots[i].addr + slots[i].pages * PAGE && slots[i].addr < addr + pages * PAGE)
      return 1;
  }
  return 0;
}

static int map_slot(struct slot *slots, int i, uint64_t addr, uint64_t pages, uint64_t tag) {
  if (overlaps(slots, i, addr, pages) || sys_map(addr, pages * PAGE) <= 0) return 0;
  slots[i] = (struct slot){addr, pages, tag, 1, 1};
  fill(&slots[i]);
  return 1;
}

int ptrandom_main(const char *cmdline) {
  uint64_t steps = arg_u64(cmdline, "steps", 3000);
  rng_state = arg_u64(cmdline, "seed", 7) * 2654435761ull + 1;
  struct slot slots[SLOTS] = {0};
  uint64_t sum = 0, maps = 0, unmaps = 0, protects = 0, tag = 1;
  for (uint64_t n = 0; n < steps; n++) {
    int i = (int)(rnd() % SLOTS);
    struct slot *s = &slots[i];
    uint64_t action = rnd() % 4;
    if (s->mapped && !verify(s, &sum)) {
      uprintf("ptrandom failed: step %lu slot %d has wrong contents\n", n, i);
      return EXIT_WORKLOAD_FAILED;
    }
    if (!s->mapped) {
      uint64_t addr = WINDOW + (rnd() % WINDOW_SPANS) * (2ull << 20) + (rnd() % 512) * PAGE;
      maps += (uint64_t)map_slot(slots, i, addr, 1 + rnd() % MAX_PAGES, tag++);
    } else if (action == 0 || action == 1) {
      sys_unmap(s->addr, s->pages * PAGE);
      s->mapped = 0;
      unmaps++;
      if (action == 1) maps += (uint64_t)map_slot(slots, i, s->addr, 1 + rnd() % MAX_PAGES, tag++);
    } else {
      s->writable = !s->writable;
      sys_protect(s->addr, s->pages * PAGE, s->writable);
      protects++;
      if (s->writable) {
        s->tag = tag++;
        fill(s);
      }
    }
  }
  for (int i = 0; i < SLOTS; i++) {
    if (!slots[i].mapped) continue;
    if (!verify(&slots[i], &sum)) {
      uprintf("ptrandom failed: slot %d has wrong contents at the end\n", i);
      return EXIT_WORKLOAD_FAILED;
    }
    sys_unmap(slots[i].addr, slots[i].pages * PAGE);
  }
  uprintf("ptrandom ok steps=%lu maps=%lu unmaps=%lu protects=%lu sum=%016lx\n", steps, maps,
          unmaps, protects, sum);
  return EXIT_OK;
}
