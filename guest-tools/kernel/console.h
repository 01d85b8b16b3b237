/* Kernel console on the COM1 16550 UART, and the two ways out of the guest.
 *
 *   kprintf("densevm-guest: %lu MiB RAM\n", mib);
 *   guest_exit(EXIT_OK);           // isa-debug-exit / densevm exit port
 *   panic("bad start info magic %x", magic);
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

void console_init(void);
void console_write(const char *buf, size_t len);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* outl(status, 0xf4), then halts for good. */
__attribute__((noreturn)) void guest_exit(uint32_t status);

/* Prints "panic: <message>" and exits the guest with EXIT_KERNEL_FAULT. */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);
