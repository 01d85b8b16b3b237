#include "paging.h"

#include "bootinfo.h"
#include "console.h"
#include "guest_abi.h"
#include "pmm.h"
#include "x86.h"

uint64_t kernel_pml4;

uint64_t *pte_walk(uint64_t root, uint64_t va, int level, int create) {
  uint64_t *table = (uint64_t *)root;
  uint64_t table_flags = PTE_P | PTE_W | (va >= USER_BASE ? PTE_U : 0);
  for (int l = 4; l > level; l--) {
    uint64_t *e = &table[pt_index(va, l)];
    if (!(*e & PTE_P)) {
      if (!create) return 0;
      uint64_t pa = pmm_alloc_zeroed();
      if (!pa) return 0;
      *e = pa | table_flags;
    } else if (*e & PTE_PS) {
      return 0;
    }
    table = (uint64_t *)(*e & PTE_ADDR);
  }
  return &table[pt_index(va, level)];
}

static void kmap_or_panic(uint64_t va, int level, uint64_t entry) {
  uint64_t *e = pte_walk(kernel_pml4, va, level, 1);
  if (!e) panic("out of memory for kernel page tables at %#lx", va);
  if (!(*e & PTE_P)) *e = entry;
}

/* Identity map of the 2 MiB chunk at pa; the first one in 4 KiB pages without page 0. */
static void map_ram_chunk(uint64_t pa) {
  if (pa) {
    kmap_or_panic(pa, 2, pa | PTE_PS | PTE_W | PTE_P);
    return;
  }
  for (uint64_t p = PAGE_SIZE; p < PAGE_2M; p += PAGE_SIZE) kmap_or_panic(p, 1, p | PTE_W | PTE_P);
}

void paging_init(void) {
  kernel_pml4 = pmm_alloc_zeroed();
  if (!kernel_pml4) panic("out of memory for the kernel PML4");
  for (uint32_t i = 0; i < boot_info.memmap_entries; i++) {
    const struct hvm_memmap_table_entry *m = &boot_info.memmap[i];
    if (m->type != HVM_MEMMAP_TYPE_RAM) continue;
    uint64_t end = m->addr + m->size;
    if (end > USER_BASE) panic("RAM above 512 GiB is not supported");
    for (uint64_t c = m->addr & ~(PAGE_2M - 1); c < end; c += PAGE_2M) map_ram_chunk(c);
  }
  write_cr3(kernel_pml4);
}

void kmap_mmio(uint64_t pa) {
  uint64_t *e = pte_walk(kernel_pml4, pa, 1, 1);
  if (!e) panic("cannot map MMIO page %#lx", pa);
  *e = pa | PTE_PCD | PTE_PWT | PTE_W | PTE_P;
  invlpg(pa);
}
