/* Physical page allocator: one bit per 4 KiB frame of guest RAM (1 = free).
 *
 * A bitmap rather than a free list because building a free list writes to every free page,
 * which would make all of guest RAM resident on the host at boot; the bitmap touches 32 KiB
 * per GiB. Allocation is lowest-address first, so runs are deterministic.
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
