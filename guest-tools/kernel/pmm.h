/* Physical page allocator: one bit per 4 KiB frame of guest RAM (1 = free).
 *
 * A bitmap rather than a free list because building a free list writes to every free page,
 * which would make all of guest RAM resident on the host at boot; the bitmaps touch 64 KiB
 * per GiB. Allocation is lowest-address first, so runs are deterministic.
 *
 * A second bitmap marks free pages known to hold no host memory ("clean": never touched,
 * or discarded by the host through the balloon or free page reporting), so the balloon can
 * prefer dirty pages and free page reporting reports each freed page once. When nothing is
 * free, an out-of-memory hook (the balloon's DEFLATE_ON_OOM) may return pages first.
 *
 *   pmm_init(boot_info.memmap, boot_info.memmap_entries, kernel_end);
 *   uint64_t pa = pmm_alloc_zeroed();   // 0 when out of memory
 *   pmm_free(pa);
 */
#pragma once

#include <stdint.h>

#include "pvh_start_info.h"

#define PAGE_SIZE 4096ull

/* RAM entries of the memmap become free pages, except below 1 MiB and below reserve_end
 * (the kernel image). The bitmap itself is carved from the first RAM that fits. */
void pmm_init(const struct hvm_memmap_table_entry *map, uint32_t entries, uint64_t reserve_end);

uint64_t pmm_alloc(void);
uint64_t pmm_alloc_zeroed(void);
void pmm_free(uint64_t pa);

uint64_t pmm_free_pages(void);
uint64_t pmm_total_pages(void); /* pages the allocator manages (free or not) */

/* Called when no page is free; returns how many pages it gave back (0: truly out). */
void pmm_set_oom_hook(uint64_t (*hook)(void));

/* Up to max free pages for the balloon, those that hold host memory (dirty) first, never
 * leaving fewer than keep free; their frame numbers go to pfns[]. Returns how many. Works a
 * bitmap word (64 pages) at a time: inflating costs a few instructions per page. */
uint32_t pmm_alloc_batch(uint32_t *pfns, uint32_t max, uint64_t keep);
/* Frees a page the host has discarded: it counts as clean. */
void pmm_free_clean(uint64_t pa);

/* Free page reporting: takes out of the allocator up to max_blocks blocks of 64 pages
 * (256 KiB, aligned) that are wholly free and not all clean; their first frame numbers go
 * to first_pfns[]. pmm_return_reported() puts one back as clean. */
#define PMM_BLOCK_PAGES 64
int pmm_take_dirty_blocks(uint64_t *first_pfns, int max_blocks);
void pmm_return_reported(uint64_t first_pfn);
