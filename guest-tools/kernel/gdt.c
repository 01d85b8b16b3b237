#include "gdt.h"

/* Descriptors, Intel SDM Vol. 3A 3.4.5: limit 0xfffff, G=1; L=1 for 64-bit code. */
#define DESC_KCODE64 0x00af9a000000ffffull /* P, DPL0, code exec/read, L */
#define DESC_KDATA 0x00cf92000000ffffull   /* P, DPL0, data read/write */
#define DESC_UDATA 0x00cff2000000ffffull   /* P, DPL3, data read/write */
#define DESC_UCODE64 0x00affa000000ffffull /* P, DPL3, code exec/read, L */

/* 64-bit TSS, SDM Vol. 3A 8.7. No I/O bitmap: ring 3 IN/OUT fault. */
struct __attribute__((packed)) tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
_Static_assert(sizeof(struct tss) == 104, "64-bit TSS is 104 bytes");

static struct tss tss __attribute__((aligned(16)));
static uint8_t double_fault_stack[4096] __attribute__((aligned(16)));

/* The boot code loads this GDT before kmain (gdt_ptr), the TSS slot is filled here. */
uint64_t gdt[7] __attribute__((aligned(16))) = {
    0, DESC_KCODE64, DESC_KDATA, DESC_UDATA, DESC_UCODE64, 0, 0,
};
struct __attribute__((packed)) {
  uint16_t limit;
  const void *base;
} gdt_ptr = {sizeof gdt - 1, gdt};

void gdt_init(void) {
  uint64_t base = (uint64_t)&tss, limit = sizeof tss - 1;
  tss.iomap_base = sizeof tss;
  tss.ist[IST_DOUBLE_FAULT - 1] = (uint64_t)(double_fault_stack + sizeof double_fault_stack);
  /* System descriptor, 16 bytes: type 9 = available 64-bit TSS, P=1. */
  gdt[SEL_TSS / 8] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
                     ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
  gdt[SEL_TSS / 8 + 1] = base >> 32;
  __asm__ volatile("ltr %w0" ::"r"(SEL_TSS));
}

void tss_set_rsp0(uint64_t rsp0) { tss.rsp[0] = rsp0; }
