/* Virtio-mmio devices announced on the command line, Linux style:
 *   virtio_mmio.device=<size>@<baseaddr>:<irq>[:<id>]   e.g. 512@0xd0000000:5
 * Parsed here; balloon_init() probes them (virtq.h) for a virtio-balloon device.
 *
 *   struct virtio_mmio_dev devs[VIRTIO_MMIO_MAX];
 *   int n = virtio_mmio_parse(boot_info.cmdline, devs, VIRTIO_MMIO_MAX);
 */
#pragma once

#include <stdint.h>

#define VIRTIO_MMIO_MAX 8

struct virtio_mmio_dev {
  uint64_t base, size;
  uint32_t irq;
};

/* Fills up to max devices; malformed entries are reported on the console and skipped. */
int virtio_mmio_parse(const char *cmdline, struct virtio_mmio_dev *out, int max);
