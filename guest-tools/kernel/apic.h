/* Local APIC timer (xAPIC MMIO at 0xfee00000) and the tick counter it drives.
 *
 * Periodic, vector 32, divide by 16, initial count APIC_TICK_COUNT. QEMU's APIC timer
 * counts nanoseconds of virtual time, so that is 16 ns * 625000 = 10 ms: 100 ticks/s under
 * TCG. On densevm the timer counts retired instructions, so ticks are deterministic there.
 *
 *   apic_timer_init();        // masks the 8259 PIC first
 *   uint64_t now = ticks;
 */
#pragma once

#include <stdint.h>

#define LAPIC_BASE 0xfee00000ull
#define APIC_TICK_COUNT 625000u

extern volatile uint64_t ticks;

void apic_timer_init(void);
/* Timer interrupt: counts the tick and signals EOI. */
void apic_tick(void);
