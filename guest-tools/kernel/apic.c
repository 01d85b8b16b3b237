#include "apic.h"

#include "paging.h"
#include "trap.h"
#include "x86.h"

/* xAPIC register offsets, SDM Vol. 3A Table 13-1. */
#define APIC_EOI 0xb0
#define APIC_SVR 0xf0
#define APIC_LVT_TIMER 0x320
#define APIC_TIMER_INIT 0x380
#define APIC_TIMER_DIV 0x3e0

#define SVR_ENABLE (1u << 8)
#define LVT_PERIODIC (1u << 17)
#define DIV_BY_16 0x3

volatile uint64_t ticks;

static void apic_write(uint32_t reg, uint32_t v) {
  *(volatile uint32_t *)(LAPIC_BASE + reg) = v;
}

void apic_timer_init(void) {
  /* The legacy PIC would otherwise deliver its own timer on vectors we treat as faults. */
  outb(0x21, 0xff);
  outb(0xa1, 0xff);
  kmap_mmio(LAPIC_BASE);
  apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
  apic_write(APIC_TIMER_DIV, DIV_BY_16);
  apic_write(APIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
  apic_write(APIC_TIMER_INIT, APIC_TICK_COUNT);
}

void apic_tick(void) {
  ticks++;
  apic_write(APIC_EOI, 0);
}
