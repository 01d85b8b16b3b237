/* Segments: the GDT (flat kernel and user code/data, one TSS) and the TSS's stack pointers.
 *
 * The layout is what SYSCALL/SYSRET require (Intel SDM Vol. 2B, SYSRET): STAR[47:32] =
 * kernel CS (SS = +8); STAR[63:48] = 0x10, so SYSRET loads SS = 0x18|3 and CS = 0x20|3.
 * Selectors 0x08/0x10 match the direct entry's (CS=0x08, SS=0x10).
 *
 *   gdt_init();                    // fills the TSS descriptor, LTR
 *   tss_set_rsp0(kstack_top);      // stack for interrupts taken in ring 3
 */
#pragma once

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define SEL_TSS 0x28
#define STAR_SYSRET_BASE 0x10

#define IST_DOUBLE_FAULT 1

#ifndef __ASSEMBLER__
#include <stdint.h>

void gdt_init(void);
void tss_set_rsp0(uint64_t rsp0);
#endif
