/* x86-64 4-level page tables: the one walker used for the kernel map and every process.
 *
 * PML4 slot 0 is the kernel half: all RAM identity-mapped (2 MiB pages; the first 2 MiB in
 * 4 KiB pages with page 0 left out to catch null pointers) plus uncached MMIO pages, all
 * supervisor-only. Every address space shares that slot's PDPT, so kernel mappings added
 * later (kmap_mmio) are visible everywhere.
 *
 *   paging_init();                                  // builds and loads kernel_pml4
 *   kmap_mmio(0xfee00000);                          // local APIC, uncached
 *   uint64_t *pte = pte_walk(root, va, 1, 1);       // leaf entry, tables created
 */
#pragma once

#include <stdint.h>

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)        /* 2 MiB leaf at level 2 */
#define PTE_BORROWED (1ull << 9)  /* software bit: frame not owned by this address space */
#define PTE_ADDR 0x000ffffffffff000ull

#define PAGE_2M (2ull << 20)

extern uint64_t kernel_pml4; /* physical address of the kernel's root table */

void paging_init(void);

/* Identity-maps one 4 KiB MMIO page uncached (PCD|PWT) in the kernel half. */
void kmap_mmio(uint64_t pa);

/* Entry for va at `level` (1 = PT, 2 = PD, 3 = PDPT, 4 = PML4) under root. Missing tables
 * are allocated when create is set (user tables get U), else NULL is returned. NULL also
 * when a 2 MiB leaf sits above the requested level, or when allocation fails. */
uint64_t *pte_walk(uint64_t root, uint64_t va, int level, int create);

/* Index of va in a table at `level`. */
static inline unsigned pt_index(uint64_t va, int level) {
  return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

_Static_assert(sizeof(uint64_t) == 8, "page-table entries are 8 bytes");
_Static_assert(PAGE_2M == 512 * 4096, "a PD entry spans 512 PT entries");
