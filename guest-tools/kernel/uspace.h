/* A process's user address space: its page tables (kernel half shared) and the regions
 * (VMAs) that may be touched. Anonymous regions are demand-zero: the first touch of a page
 * allocates a zeroed frame. Frames marked PTE_BORROWED (the workload image) are not ours to
 * free.
 *
 *   struct uspace us;
 *   uspace_create(&us);
 *   uint64_t a = uspace_map(&us, 0, 1 << 20);    // kernel picks the address
 *   uspace_fault(&us, a + 42);                   // what the #PF handler does
 *   uspace_unmap(&us, a, 1 << 20);               // frees frames, INVLPG per page
 *   uspace_destroy(&us);
 */
#pragma once

#include <stdint.h>

#define USPACE_MAX_VMAS 32

#define USPACE_OK 0
#define USPACE_NOT_MINE -1 /* address outside any anonymous region */
#define USPACE_NOMEM -2

struct vma {
  uint64_t start, end; /* page aligned, end exclusive */
  int anon;            /* demand-zero; 0 for the image, which is mapped up front */
};

struct uspace {
  uint64_t pml4; /* physical */
  struct vma vmas[USPACE_MAX_VMAS];
  int nvmas;
  uint64_t map_next; /* next address map(0, len) considers */
};

/* 0, or USPACE_NOMEM. */
int uspace_create(struct uspace *us);
/* Frees every user table and owned frame, then the PML4. Must not be the loaded CR3. */
void uspace_destroy(struct uspace *us);

/* Adds a region; 0, or -1 when it overlaps another or the table is full. */
int uspace_add_vma(struct uspace *us, uint64_t start, uint64_t end, int anon);

/* Anonymous region of len bytes (rounded up to pages) at addr, or where the kernel likes
 * when addr is 0. Returns the address, or 0. */
uint64_t uspace_map(struct uspace *us, uint64_t addr, uint64_t len);
/* Removes [addr, addr+len) from anonymous regions and frees their frames. 0, or -1. */
int uspace_unmap(struct uspace *us, uint64_t addr, uint64_t len);
/* Sets or clears R/W on the pages of [addr, addr+len) that are present (INVLPG each);
 * pages not yet touched keep demand-zero writable semantics. */
int uspace_protect(struct uspace *us, uint64_t addr, uint64_t len, int writable);

/* Demand-zero fill of the page holding va: USPACE_OK, USPACE_NOT_MINE or USPACE_NOMEM. */
int uspace_fault(struct uspace *us, uint64_t va);

/* 1 if [addr, addr+len) lies inside one region (the kernel may then read it). */
int uspace_readable(const struct uspace *us, uint64_t addr, uint64_t len);
