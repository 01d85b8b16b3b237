/* Xen PVH boot information: the structure a PVH loader hands the guest kernel.
 *
 * Both boot entries of the densevm guest receive its guest-physical address (RBX/RDI on the
 * direct 64-bit entry, EBX on the PVH 32-bit entry). Layout follows Xen's
 * public/arch-x86/hvm/start_info.h, version 1 (the version that carries a memory map).
 *
 *   struct hvm_start_info si = {.magic = HVM_START_MAGIC_VALUE, .version = 1};
 *   si.memmap_paddr = map_gpa; si.memmap_entries = 2;
 *   si.cmdline_paddr = cmdline_gpa;   // NUL-terminated
 *
 * The VMM writes the same layout from its own definition (vmm/pvh_start_info.h), as QEMU's
 * PVH loader does from Xen's.
 */
#pragma once

#include <stdint.h>

#define HVM_START_MAGIC_VALUE 0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18 /* ELF note (name "Xen") holding the 32-bit entry */

#define HVM_MEMMAP_TYPE_RAM 1
#define HVM_MEMMAP_TYPE_RESERVED 2
#define HVM_MEMMAP_TYPE_ACPI 3
#define HVM_MEMMAP_TYPE_NVS 4
#define HVM_MEMMAP_TYPE_UNUSABLE 5

struct hvm_start_info {
  uint32_t magic;          /* HVM_START_MAGIC_VALUE */
  uint32_t version;        /* 1: memmap_* fields are valid */
  uint32_t flags;          /* SIF_* (unused by densevm) */
  uint32_t nr_modules;     /* entries at modlist_paddr (unused by densevm) */
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;  /* NUL-terminated ASCII, 0 if none */
  uint64_t rsdp_paddr;     /* ACPI RSDP, 0 if none */
  uint64_t memmap_paddr;   /* array of hvm_memmap_table_entry */
  uint32_t memmap_entries;
  uint32_t reserved;
};

struct hvm_memmap_table_entry {
  uint64_t addr;     /* base guest-physical address */
  uint64_t size;     /* bytes */
  uint32_t type;     /* HVM_MEMMAP_TYPE_* (E820 numbering) */
  uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info is 56 bytes");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry is 24 bytes");
