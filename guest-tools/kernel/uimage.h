/* The workload image (user/, linked at USER_BASE) embedded in the kernel as a flat binary.
 * Its text and rodata pages are mapped read-only into every process straight from the
 * kernel image (PTE_BORROWED), so processes share them and creating one copies nothing.
 *
 *   uimage_check();                    // boot: panics on a bad header
 *   uint64_t entry = uimage_map(&us);  // 0 if out of memory
 *   proc_spawn(uimage_entry(), 0, 0, cmdline);
 */
#pragma once

#include <stdint.h>

#include "uspace.h"

void uimage_check(void);
/* The image's entry point, _ustart(cmdline). */
uint64_t uimage_entry(void);
/* Maps image, bss and stack regions; returns the image entry point or 0. */
uint64_t uimage_map(struct uspace *us);
