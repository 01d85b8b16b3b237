/* What the kernel keeps of the PVH start info. It is copied into the kernel image before
 * anything else runs, because the loader may have placed it (and its own page tables) in
 * RAM that the page allocator is about to hand out.
 *
 *   bootinfo_copy(start_info_pa);
 *   for (uint32_t i = 0; i < boot_info.memmap_entries; i++) use(boot_info.memmap[i]);
 */
#pragma once

#include <stdint.h>

#include "pvh_start_info.h"

#define BOOT_CMDLINE_MAX 2048
#define BOOT_MEMMAP_MAX 128

struct boot_info {
  char cmdline[BOOT_CMDLINE_MAX];
  struct hvm_memmap_table_entry memmap[BOOT_MEMMAP_MAX];
  uint32_t memmap_entries;
};

extern struct boot_info boot_info;

/* Validates magic and version (panics otherwise) and copies cmdline and memmap. */
void bootinfo_copy(uint64_t start_info_pa);
