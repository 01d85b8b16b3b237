/* The few libc string functions the guest needs; gcc also emits calls to memset/memcpy.
 *
 *   memcpy(dst, src, n);
 *   if (strcmp(name, "hello") == 0) ...
 *
 * This file is built with -fno-tree-loop-distribute-patterns so that these loops are not
 * turned back into calls to themselves.
 */
#pragma once

#include <stddef.h>

void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
