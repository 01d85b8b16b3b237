#include "console.h"

#include <stdarg.h>

#include "guest_abi.h"
#include "lib/fmt.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_IER (COM1 + 1)
#define UART_LSR (COM1 + 5)
#define LSR_THRE 0x20 /* transmit holding register empty */
#define EXIT_PORT 0xf4

void console_init(void) { outb(UART_IER, 0); /* polled: no UART interrupts */ }

static void uart_putc(char c) {
  while (!(inb(UART_LSR) & LSR_THRE)) __asm__ volatile("pause");
  outb(COM1, (uint8_t)c);
}

void console_write(const char *buf, size_t len) {
  for (size_t i = 0; i < len; i++) uart_putc(buf[i]);
}

void kprintf(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  size_t n = fmt_vformat(line, sizeof line, fmt, ap);
  va_end(ap);
  console_write(line, n);
}

void guest_exit(uint32_t status) {
  outl(EXIT_PORT, status);
  halt_forever();
}

void panic(const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  fmt_vformat(line, sizeof line, fmt, ap);
  va_end(ap);
  kprintf("panic: %s\n", line);
  guest_exit(EXIT_KERNEL_FAULT);
}
