/* The contract between the densevm guest kernel and its ring-3 workloads (and, for the exit
 * statuses, the host): syscall numbers, the user address-space layout and exit statuses.
 *
 *   rax = SYS_WRITE; rdi = buf; rsi = len; syscall   -> rax = len or -1
 *
 * Syscall ABI: number in rax, arguments in rdi, rsi, rdx; result in rax; rcx and r11 are
 * clobbered (SYSCALL stores RIP/RFLAGS there).
 */
#pragma once

#define SYS_WRITE 0  /* (buf, len) -> len | -1: bytes to the console */
#define SYS_EXIT 1   /* (status) -> never returns; pid 1 exiting ends the guest */
#define SYS_MAP 2    /* (addr | 0, len) -> addr | -1: anonymous demand-zero memory */
#define SYS_UNMAP 3  /* (addr, len) -> 0 | -1: frees the pages back to the kernel */
#define SYS_TICKS 4  /* () -> timer ticks since boot */
#define SYS_SLEEP 5  /* (ticks) -> 0: halts until that many ticks passed; 0 = yield */
#define SYS_SPAWN 6  /* (entry, arg0, arg1) -> pid | -1: new process, same user image */
#define SYS_WAIT 7   /* (pid) -> exit status | -1: waits for a child */
#define SYS_PROTECT 8 /* (addr, len, writable) -> 0 | -1: sets R/W on the pages present */
#define SYS_GENID 9   /* (half) -> 64 bits of the VM generation id (0: low, 1: high); 0 if none */
#define SYS_MARK 10   /* (value) -> 0: a marker for the host (out to port 0xf6), e.g. "checkpoint here" */

/* User half: PML4 slots 1..255. Slot 0 is the kernel's identity map of RAM, shared by all
 * address spaces, so the user region starts at 512 GiB and never collides with RAM. */
#define USER_BASE 0x0000008000000000ull       /* the workload image (text, rodata, bss) */
#define USER_STACK_TOP 0x0000008040000000ull  /* 1 GiB above the image, grows down */
#define USER_STACK_SIZE 0x10000ull
#define USER_MAP_BASE 0x0000010000000000ull   /* where map(0, len) places regions */
#define USER_TOP 0x00007ffffffff000ull        /* keeps SYSRET's RCX canonical */

/* Guest exit statuses (outl to port 0xf4). QEMU's isa-debug-exit turns status s into
 * process exit code (s << 1) | 1; the densevm VMM reports s itself. */
#define EXIT_OK 0
#define EXIT_WORKLOAD_FAILED 1  /* a workload found wrong data */
#define EXIT_BAD_ARGS 2         /* unknown workload or bad parameter */
#define EXIT_USER_FAULT 3       /* fatal exception in ring 3 */
#define EXIT_KERNEL_FAULT 4     /* fatal exception or panic in the kernel */

/* First bytes of the embedded workload image (linked at USER_BASE). */
#define USER_IMAGE_MAGIC 0x4d56444547415355ull /* "USAGEDVM" little-endian */
struct user_image_header {
  unsigned long long magic;
  unsigned long long entry;      /* _ustart(cmdline) */
  unsigned long long image_end;  /* end of text+rodata (file contents) */
  unsigned long long bss_start;  /* page aligned */
  unsigned long long bss_end;
};
