/* Driver side of a virtio-mmio device (virtio 1.x §4.2, register layout version 2) and its
 * split virtqueues (§2.7), with one chain in flight per queue.
 *
 * Nothing here waits for interrupts: we have no IOAPIC on densevm, so callers poll
 * virtq_reap() (from the timer tick); QEMU's microvm is polled the same way. Rings live in
 * identity-mapped pages from the page allocator, so a ring's address is its physical one.
 *
 *   struct vmmio dev; if (vmmio_open(&dev, base) == 5) ... negotiate, then virtq_setup(...);
 *   struct vq_buf b = {pa, len, 0}; virtq_submit(&dev, &q, &b, 1);
 *   if (virtq_reap(&q)) ... the device used the chain;
 */
#pragma once

#include <stdint.h>

#define VIRTIO_STATUS_ACK 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VQ_MAX_SIZE 64 /* what we ask for; fits desc + avail + used in one page */

struct vmmio {
  uint64_t base;
};

struct vq_buf {
  uint64_t addr;
  uint32_t len;
  int device_writable;
};

struct virtq {
  uint16_t index, size;
  uint16_t next_avail; /* our copy of avail.idx */
  uint16_t last_used;  /* used.idx we have seen */
  int busy;            /* a chain is with the device */
  uint64_t page;       /* desc at +0, avail at +1024, used at +2048 */
};

/* Maps the window; returns the device ID, or 0 if it is no version-2 virtio-mmio device. */
uint32_t vmmio_open(struct vmmio *d, uint64_t base);
uint32_t vmmio_read(const struct vmmio *d, uint32_t off);
void vmmio_write(const struct vmmio *d, uint32_t off, uint32_t v);
/* §3.1.1 steps 1-6: reset, ACK, DRIVER, features = offered & wanted, FEATURES_OK.
 * Returns the negotiated features, or 0 (status FAILED) if the device refused. */
uint64_t vmmio_negotiate(const struct vmmio *d, uint64_t wanted);
/* Device status (§2.1), and acknowledging interrupt status bits we have acted on by polling. */
uint32_t vmmio_status(const struct vmmio *d);
void vmmio_driver_ok(const struct vmmio *d); /* §3.1.1 step 8 */
void vmmio_ack_interrupts(const struct vmmio *d);
uint32_t vmmio_config32(const struct vmmio *d, uint32_t off); /* generation-consistent */
void vmmio_config_write32(const struct vmmio *d, uint32_t off, uint32_t v);

/* 0 on success: queue allocated, sized and made ready. */
int virtq_setup(const struct vmmio *d, struct virtq *q, uint16_t index);
/* Offers bufs[0..n) as one chain (n <= size) and notifies; the queue must not be busy. */
void virtq_submit(const struct vmmio *d, struct virtq *q, const struct vq_buf *bufs, int n);
/* 1 when the in-flight chain has come back (the queue is free again). */
int virtq_reap(struct virtq *q);
