#include "gdt.h"
#include "trap.h"

/* 64-bit interrupt gate, SDM Vol. 3A 7.14.1. */
struct idt_gate {
  uint16_t offset_lo;
  uint16_t selector;
  uint8_t ist;       /* bits 2:0: Interrupt Stack Table slot, 0 = none */
  uint8_t type_attr; /* 0x8e: present, DPL 0, interrupt gate (clears IF) */
  uint16_t offset_mid;
  uint32_t offset_hi;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gates are 16 bytes in long mode");

#define TRAP_STUB_SIZE 16

extern const char trap_stubs[];
static struct idt_gate idt[256] __attribute__((aligned(16)));

void idt_init(void) {
  for (unsigned v = 0; v < 256; v++) {
    uint64_t stub = (uint64_t)(trap_stubs + v * TRAP_STUB_SIZE);
    idt[v] = (struct idt_gate){
        .offset_lo = (uint16_t)stub,
        .selector = SEL_KCODE,
        /* A double fault may come from a broken kernel stack: give it a known-good one. */
        .ist = v == VEC_DF ? IST_DOUBLE_FAULT : 0,
        .type_attr = 0x8e,
        .offset_mid = (uint16_t)(stub >> 16),
        .offset_hi = (uint32_t)(stub >> 32),
    };
  }
  struct __attribute__((packed)) {
    uint16_t limit;
    const void *base;
  } idtr = {sizeof idt - 1, idt};
  __asm__ volatile("lidt %0" ::"m"(idtr));
}
