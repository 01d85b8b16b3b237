/* Free page reporting (virtio 1.x §5.5.6.6, VIRTIO_BALLOON_F_REPORTING): hands the device
 * free memory the host may discard, so memory a workload freed leaves the host without any
 * balloon target.
 *
 * Every REPORT_INTERVAL ticks, whole 64-page blocks (256 KiB, aligned) that are free and
 * were touched since they were last clean are taken out of the page allocator, offered as
 * device-writable buffers (adjacent blocks merged, up to 4 MiB each), and returned to the
 * allocator as clean once the device has used the chain. A block is reported once per time
 * it is dirtied; freshly booted memory is clean and never reported.
 *
 *   free_page_report_init(&dev, &report_q);
 *   free_page_report_poll(ticks);      // from balloon_poll()
 */
#pragma once

#include <stdint.h>

#include "virtq.h"

#define REPORT_INTERVAL 20 /* ticks: 200 ms on QEMU, like Linux's 2 s delay but shorter */

void free_page_report_init(const struct vmmio *dev, struct virtq *q);
void free_page_report_poll(uint64_t now);
