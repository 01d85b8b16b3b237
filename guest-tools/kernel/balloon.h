/* virtio-balloon driver (virtio 1.x §5.5) over virtio-mmio.
 *
 * Follows the device's num_pages: inflating takes pages from the page allocator (dirty ones
 * first, those are what the host gets back), deflating returns them, in batches of up to
 * 1024 PFNs per request. Negotiates STATS_VQ (free and total memory), DEFLATE_ON_OOM (the
 * page allocator asks the balloon for pages before it fails) and REPORTING (free page
 * reporting, see free_page_report.h); not MUST_TELL_HOST, so deflated pages are reused at
 * once (§5.5.6.1). There are no interrupts: balloon_poll() runs once per timer tick from the
 * scheduler loop, which every tick reaches, whether a process is running, sleeping
 * (hold/linger) or all are idle. Command line: balloon=0 disables the driver,
 * balloon_report=0 free page reporting only, balloon_log=1 prints a line whenever the balloon
 * reaches its target (pages moved and ticks taken: virtual time).
 *
 *   balloon_init(boot_info.cmdline, devs, ndevs);
 *   for (;;) { balloon_poll(); ... }            // the scheduler loop
 */
#pragma once

#include <stdint.h>

#include "virtio_mmio.h"

void balloon_init(const char *cmdline, const struct virtio_mmio_dev *devs, int ndevs);
void balloon_poll(void);
