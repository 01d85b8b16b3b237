/* kmain: brings the machine up in dependency order, then hands the CPU to the scheduler
 * with the workload as pid 1. */
#include "apic.h"
#include "balloon.h"
#include "bootinfo.h"
#include "console.h"
#include "gdt.h"
#include "paging.h"
#include "pmm.h"
#include "proc.h"
#include "sched.h"
#include "trap.h"
#include "uimage.h"
#include "virtio_mmio.h"
#include "x86.h"

extern const char _kernel_end[]; /* kernel.ld */

__attribute__((noreturn)) void kmain(uint64_t start_info_pa);

void kmain(uint64_t start_info_pa) {
  console_init();
  bootinfo_copy(start_info_pa); /* first: the loader's data may lie in allocatable RAM */
  gdt_init();
  idt_init();
  syscall_init();
  write_cr0(read_cr0() | CR0_WP);
  pmm_init(boot_info.memmap, boot_info.memmap_entries, (uint64_t)_kernel_end);
  paging_init();
  apic_timer_init();
  uimage_check();

  struct virtio_mmio_dev devs[VIRTIO_MMIO_MAX];
  int ndevs = virtio_mmio_parse(boot_info.cmdline, devs, VIRTIO_MMIO_MAX);
  kprintf("densevm-guest: %lu MiB free, %d virtio-mmio, cmdline \"%s\"\n",
          pmm_free_pages() >> 8, ndevs, boot_info.cmdline);
  balloon_init(boot_info.cmdline, devs, ndevs);

  if (proc_spawn(uimage_entry(), 0, 0, boot_info.cmdline) != 1)
    panic("cannot start the workload");
  sched_run();
}
