#include "pmm.h"

#include "console.h"
#include "x86.h"

#define LOW_RESERVED (1ull << 20) /* real-mode area, BIOS and loader data */

static uint64_t *bitmap;    /* identity-mapped */
static uint64_t *clean;     /* 1 = free and not backed by host memory */
static uint64_t nwords;
static uint64_t hint;       /* no free page below word `hint` */
static uint64_t dirty_hint; /* no free dirty page below word `dirty_hint` */
static uint64_t free_count, total_count;
static uint64_t (*oom_hook)(void);

static uint64_t align_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

/* Lowest set bit of a non-zero word, by halving (no BSF/TZCNT: not in our ISA subset). */
static unsigned lowest_bit(uint64_t x) {
  unsigned n = 0;
  if (!(x & 0xffffffffull)) { n += 32; x >>= 32; }
  if (!(x & 0xffff)) { n += 16; x >>= 16; }
  if (!(x & 0xff)) { n += 8; x >>= 8; }
  if (!(x & 0xf)) { n += 4; x >>= 4; }
  if (!(x & 0x3)) { n += 2; x >>= 2; }
  if (!(x & 0x1)) n += 1;
  return n;
}

/* Marks frames [lo, hi) free, a word at a time where aligned. Memmap RAM entries do not
 * overlap, so every frame is counted once. */
static void mark_free(uint64_t lo, uint64_t hi) {
  free_count += hi - lo;
  for (; lo < hi && (lo & 63); lo++) bitmap[lo >> 6] |= 1ull << (lo & 63);
  for (; lo + 64 <= hi; lo += 64) bitmap[lo >> 6] = ~0ull;
  for (; lo < hi; lo++) bitmap[lo >> 6] |= 1ull << (lo & 63);
}

static void mark_used(uint64_t lo, uint64_t hi) {
  for (; lo < hi; lo++) {
    uint64_t bit = 1ull << (lo & 63);
    if (bitmap[lo >> 6] & bit) free_count--;
    bitmap[lo >> 6] &= ~bit;
  }
}

void pmm_init(const struct hvm_memmap_table_entry *map, uint32_t entries, uint64_t reserve_end) {
  uint64_t floor = reserve_end > LOW_RESERVED ? align_up(reserve_end) : LOW_RESERVED;
  uint64_t max_pfn = 0;
  for (uint32_t i = 0; i < entries; i++) {
    uint64_t end = (map[i].addr + map[i].size) / PAGE_SIZE;
    if (map[i].type == HVM_MEMMAP_TYPE_RAM && end > max_pfn) max_pfn = end;
  }
  nwords = (max_pfn + 63) / 64;
  uint64_t bitmap_bytes = 2 * align_up(nwords * 8); /* free bits, then clean bits */

  uint64_t at = 0;
  for (uint32_t i = 0; i < entries && !at; i++) {
    uint64_t lo = align_up(map[i].addr > floor ? map[i].addr : floor);
    if (map[i].type == HVM_MEMMAP_TYPE_RAM && lo + bitmap_bytes <= map[i].addr + map[i].size)
      at = lo;
  }
  if (!at) panic("no RAM above %#lx for a %lu-byte page bitmap", floor, bitmap_bytes);
  bitmap = (uint64_t *)at;
  clean = (uint64_t *)(at + bitmap_bytes / 2);
  for (uint64_t off = 0; off < bitmap_bytes; off += PAGE_SIZE) zero_page((char *)bitmap + off);

  for (uint32_t i = 0; i < entries; i++) {
    if (map[i].type != HVM_MEMMAP_TYPE_RAM) continue;
    uint64_t lo = align_up(map[i].addr > floor ? map[i].addr : floor);
    uint64_t hi = (map[i].addr + map[i].size) & ~(PAGE_SIZE - 1);
    if (lo < hi) mark_free(lo / PAGE_SIZE, hi / PAGE_SIZE);
  }
  mark_used(at / PAGE_SIZE, (at + bitmap_bytes) / PAGE_SIZE);
  for (uint64_t w = 0; w < nwords; w++) clean[w] = bitmap[w]; /* never touched since boot */
  total_count = free_count;

  hint = dirty_hint = 0;
}

void pmm_set_oom_hook(uint64_t (*hook)(void)) { oom_hook = hook; }

static uint64_t take(uint64_t w, uint64_t bits) {
  uint64_t b = lowest_bit(bits), bit = 1ull << b;
  bitmap[w] &= ~bit;
  clean[w] &= ~bit;
  free_count--;
  return (w * 64 + b) * PAGE_SIZE;
}

static uint64_t alloc_once(void) {
  for (uint64_t w = hint; w < nwords; w++) {
    if (!bitmap[w]) continue;
    hint = w;
    return take(w, bitmap[w]);
  }
  hint = nwords;
  return 0;
}

uint64_t pmm_alloc(void) {
  uint64_t pa = alloc_once();
  if (!pa && oom_hook && oom_hook()) pa = alloc_once();
  return pa;
}

/* Takes up to max of the pages in `bits` (free pages of word w), lowest first, into pfns[]. */
static uint32_t take_word(uint64_t w, uint64_t bits, uint32_t *pfns, uint32_t max) {
  uint32_t n = 0;
  uint64_t taken = 0;
  if (bits == ~0ull && max >= 64) { /* a whole free run: the common case after a big free */
    for (uint32_t b = 0; b < 64; b++) pfns[b] = (uint32_t)(w * 64 + b);
    n = 64;
    taken = ~0ull;
  } else {
    for (uint32_t b = 0; b < 64 && n < max; b++) {
      if (!((bits >> b) & 1)) continue;
      pfns[n++] = (uint32_t)(w * 64 + b);
      taken |= 1ull << b;
    }
  }
  bitmap[w] &= ~taken;
  clean[w] &= ~taken;
  free_count -= n;
  return n;
}

uint32_t pmm_alloc_batch(uint32_t *pfns, uint32_t max, uint64_t keep) {
  uint32_t n = 0;
  if (free_count <= keep) return 0;
  if (free_count - keep < max) max = (uint32_t)(free_count - keep);
  for (uint64_t w = dirty_hint; w < nwords && n < max; w++) {
    uint64_t bits = bitmap[w] & ~clean[w];
    if (bits) n += take_word(w, bits, pfns + n, max - n);
    dirty_hint = w;
  }
  if (n == max) return n;
  dirty_hint = nwords;
  for (uint64_t w = hint; w < nwords && n < max; w++) {
    if (bitmap[w]) n += take_word(w, bitmap[w], pfns + n, max - n);
    hint = w;
  }
  return n;
}

uint64_t pmm_alloc_zeroed(void) {
  uint64_t pa = pmm_alloc();
  if (pa) zero_page((void *)pa);
  return pa;
}

static void free_page(uint64_t pa, int is_clean) {
  uint64_t pfn = pa / PAGE_SIZE, w = pfn >> 6, bit = 1ull << (pfn & 63);
  if ((pa & (PAGE_SIZE - 1)) || w >= nwords || (bitmap[w] & bit))
    panic("bad free of page %#lx", pa);
  bitmap[w] |= bit;
  if (is_clean) clean[w] |= bit;
  else if (w < dirty_hint) dirty_hint = w;
  if (w < hint) hint = w;
  free_count++;
}

void pmm_free(uint64_t pa) { free_page(pa, 0); }
void pmm_free_clean(uint64_t pa) { free_page(pa, 1); }

uint64_t pmm_free_pages(void) { return free_count; }
uint64_t pmm_total_pages(void) { return total_count; }

int pmm_take_dirty_blocks(uint64_t *first_pfns, int max_blocks) {
  int n = 0;
  for (uint64_t w = dirty_hint; w < nwords && n < max_blocks; w++) {
    if (bitmap[w] != ~0ull || clean[w] == ~0ull) continue;
    bitmap[w] = clean[w] = 0;
    free_count -= PMM_BLOCK_PAGES;
    first_pfns[n++] = w * 64;
  }
  return n;
}

void pmm_return_reported(uint64_t first_pfn) {
  uint64_t w = first_pfn >> 6;
  if ((first_pfn & 63) || w >= nwords || bitmap[w]) panic("bad report return %#lx", first_pfn);
  bitmap[w] = clean[w] = ~0ull;
  if (w < hint) hint = w;
  free_count += PMM_BLOCK_PAGES;
}
