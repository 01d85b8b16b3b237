#include "uimage.h"

#include "console.h"
#include "guest_abi.h"
#include "paging.h"
#include "pmm.h"

extern const char user_image_start[], user_image_end[]; /* user_blob.S */

static const struct user_image_header *header(void) {
  return (const struct user_image_header *)user_image_start;
}

void uimage_check(void) {
  const struct user_image_header *h = header();
  uint64_t file_end = USER_BASE + (uint64_t)(user_image_end - user_image_start);
  if (h->magic != USER_IMAGE_MAGIC || h->image_end > file_end || h->entry < USER_BASE ||
      h->entry >= h->image_end || h->bss_start < h->image_end || h->bss_end < h->bss_start)
    panic("corrupt embedded workload image");
}

uint64_t uimage_entry(void) { return header()->entry; }

uint64_t uimage_map(struct uspace *us) {
  const struct user_image_header *h = header();
  uint64_t image_end = (h->image_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  uint64_t bss_end = (h->bss_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  for (uint64_t va = USER_BASE; va < image_end; va += PAGE_SIZE) {
    uint64_t *e = pte_walk(us->pml4, va, 1, 1);
    if (!e) return 0;
    /* Identity-mapped kernel: the image's virtual address is its physical address. */
    *e = ((uint64_t)user_image_start + (va - USER_BASE)) | PTE_BORROWED | PTE_U | PTE_P;
  }
  if (uspace_add_vma(us, USER_BASE, image_end, 0) != 0 ||
      (bss_end > h->bss_start && uspace_add_vma(us, h->bss_start, bss_end, 1) != 0) ||
      uspace_add_vma(us, USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_TOP, 1) != 0)
    return 0;
  return h->entry;
}
