#include "uspace.h"

#include "guest_abi.h"
#include "paging.h"
#include "pmm.h"
#include "x86.h"

#define USER_PML4_FIRST 1   /* pt_index(USER_BASE, 4) */
#define USER_PML4_LAST 255  /* the lower canonical half */

static uint64_t page_up(uint64_t v) { return (v + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

int uspace_create(struct uspace *us) {
  *us = (struct uspace){.map_next = USER_MAP_BASE};
  us->pml4 = pmm_alloc_zeroed();
  if (!us->pml4) return USPACE_NOMEM;
  ((uint64_t *)us->pml4)[0] = ((uint64_t *)kernel_pml4)[0]; /* the shared kernel half */
  return USPACE_OK;
}

static void free_table(uint64_t table_pa, int level) {
  uint64_t *t = (uint64_t *)table_pa;
  for (int i = 0; i < 512; i++) {
    uint64_t e = t[i];
    if (!(e & PTE_P)) continue;
    if (level > 1) free_table(e & PTE_ADDR, level - 1);
    else if (!(e & PTE_BORROWED)) pmm_free(e & PTE_ADDR);
  }
  pmm_free(table_pa);
}

void uspace_destroy(struct uspace *us) {
  uint64_t *pml4 = (uint64_t *)us->pml4;
  for (int i = USER_PML4_FIRST; i <= USER_PML4_LAST; i++)
    if (pml4[i] & PTE_P) free_table(pml4[i] & PTE_ADDR, 3);
  pmm_free(us->pml4);
  us->pml4 = 0;
  us->nvmas = 0;
}

static const struct vma *find_vma(const struct uspace *us, uint64_t va) {
  for (int i = 0; i < us->nvmas; i++)
    if (va >= us->vmas[i].start && va < us->vmas[i].end) return &us->vmas[i];
  return 0;
}

static int overlaps(const struct uspace *us, uint64_t start, uint64_t end) {
  for (int i = 0; i < us->nvmas; i++)
    if (start < us->vmas[i].end && us->vmas[i].start < end) return 1;
  return 0;
}

int uspace_add_vma(struct uspace *us, uint64_t start, uint64_t end, int anon) {
  if (us->nvmas == USPACE_MAX_VMAS || overlaps(us, start, end)) return -1;
  us->vmas[us->nvmas++] = (struct vma){start, end, anon};
  return 0;
}

static int user_range_ok(uint64_t addr, uint64_t len) {
  return len && !(addr & (PAGE_SIZE - 1)) && addr >= USER_BASE && addr < USER_TOP &&
         len <= USER_TOP - addr;
}

uint64_t uspace_map(struct uspace *us, uint64_t addr, uint64_t len) {
  if (len > USER_TOP) return 0;
  len = page_up(len);
  if (!addr) {
    /* 2 MiB aligned with a 2 MiB gap: regions get page tables of their own. */
    addr = (us->map_next + PAGE_2M - 1) & ~(PAGE_2M - 1);
    while (user_range_ok(addr, len) && overlaps(us, addr, addr + len)) addr += PAGE_2M;
    if (user_range_ok(addr, len)) us->map_next = addr + len + PAGE_2M;
  }
  if (!user_range_ok(addr, len) || uspace_add_vma(us, addr, addr + len, 1) != 0) return 0;
  return addr;
}

/* Clears the PTEs of [lo, hi), freeing frames, one page table at a time. A page table whose
 * whole 2 MiB span is unmapped is freed too, so map/unmap churn really churns tables. */
static void unmap_pages(struct uspace *us, uint64_t lo, uint64_t hi) {
  while (lo < hi) {
    uint64_t span_end = (lo | (PAGE_2M - 1)) + 1, end = span_end < hi ? span_end : hi;
    uint64_t *pde = pte_walk(us->pml4, lo, 2, 0);
    if (pde && (*pde & PTE_P)) {
      uint64_t *pt = (uint64_t *)(*pde & PTE_ADDR);
      for (uint64_t va = lo; va < end; va += PAGE_SIZE) {
        uint64_t *e = &pt[pt_index(va, 1)];
        if (!(*e & PTE_P)) continue;
        if (!(*e & PTE_BORROWED)) pmm_free(*e & PTE_ADDR);
        *e = 0;
        invlpg(va);
      }
      if (end - lo == PAGE_2M) {
        uint64_t pt_pa = *pde & PTE_ADDR;
        *pde = 0;
        invlpg(lo); /* also drops paging-structure caches for the span */
        pmm_free(pt_pa);
      }
    }
    lo = end;
  }
}

int uspace_unmap(struct uspace *us, uint64_t addr, uint64_t len) {
  if (!user_range_ok(addr, len)) return -1;
  uint64_t end = addr + page_up(len);
  for (int i = 0; i < us->nvmas; i++) {
    struct vma v = us->vmas[i];
    if (!v.anon || end <= v.start || v.end <= addr) continue;
    uint64_t lo = addr > v.start ? addr : v.start, hi = end < v.end ? end : v.end;
    int split = lo > v.start && hi < v.end;
    if (split && us->nvmas == USPACE_MAX_VMAS) return -1;
    unmap_pages(us, lo, hi);
    if (split) {
      us->vmas[i].end = lo;
      us->vmas[us->nvmas++] = (struct vma){hi, v.end, 1};
    } else if (lo > v.start) {
      us->vmas[i].end = lo;
    } else if (hi < v.end) {
      us->vmas[i].start = hi;
    } else {
      us->vmas[i--] = us->vmas[--us->nvmas];
    }
  }
  return 0;
}

int uspace_protect(struct uspace *us, uint64_t addr, uint64_t len, int writable) {
  if (!user_range_ok(addr, len)) return -1;
  uint64_t end = addr + page_up(len);
  for (uint64_t va = addr; va < end; va += PAGE_SIZE) {
    const struct vma *v = find_vma(us, va);
    if (!v || !v->anon) continue;
    uint64_t *e = pte_walk(us->pml4, va, 1, 0);
    if (!e || !(*e & PTE_P)) continue;
    *e = writable ? (*e | PTE_W) : (*e & ~(uint64_t)PTE_W);
    invlpg(va);
  }
  return 0;
}

int uspace_fault(struct uspace *us, uint64_t va) {
  const struct vma *v = find_vma(us, va);
  if (!v || !v->anon) return USPACE_NOT_MINE;
  uint64_t *e = pte_walk(us->pml4, va, 1, 1);
  if (!e) return USPACE_NOMEM;
  if (*e & PTE_P) return USPACE_NOT_MINE;
  uint64_t pa = pmm_alloc_zeroed();
  if (!pa) return USPACE_NOMEM;
  *e = pa | PTE_U | PTE_W | PTE_P;
  return USPACE_OK;
}

int uspace_readable(const struct uspace *us, uint64_t addr, uint64_t len) {
  const struct vma *v = find_vma(us, addr);
  return v && len <= v->end - addr;
}
