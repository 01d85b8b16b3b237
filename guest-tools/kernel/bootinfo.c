#include "bootinfo.h"

#include "console.h"

struct boot_info boot_info;

void bootinfo_copy(uint64_t start_info_pa) {
  /* The loader identity-maps RAM, so a guest-physical address is a pointer here. */
  const struct hvm_start_info *si = (const struct hvm_start_info *)start_info_pa;
  if (!si || si->magic != HVM_START_MAGIC_VALUE)
    panic("no PVH start info at %#lx", start_info_pa);
  if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries)
    panic("PVH start info version %u has no memory map", si->version);

  if (si->cmdline_paddr) {
    const char *src = (const char *)si->cmdline_paddr;
    uint32_t n = 0;
    for (; n + 1 < BOOT_CMDLINE_MAX && src[n]; n++) boot_info.cmdline[n] = src[n];
    boot_info.cmdline[n] = '\0';
  }

  const struct hvm_memmap_table_entry *map =
      (const struct hvm_memmap_table_entry *)si->memmap_paddr;
  uint32_t n = si->memmap_entries;
  if (n > BOOT_MEMMAP_MAX) {
    kprintf("densevm-guest: memmap truncated to %u of %u entries\n", BOOT_MEMMAP_MAX, n);
    n = BOOT_MEMMAP_MAX;
  }
  for (uint32_t i = 0; i < n; i++) boot_info.memmap[i] = map[i];
  boot_info.memmap_entries = n;
}
