#include "virtq.h"

#include "paging.h"
#include "pmm.h"

/* §4.2.2 registers. */
#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC 0x080
#define REG_QUEUE_DRIVER 0x090
#define REG_QUEUE_DEVICE 0x0a0
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG 0x100

#define MAGIC 0x74726976u /* "virt" */
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2

struct vq_desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags, next;
};
_Static_assert(sizeof(struct vq_desc) == 16, "virtq_desc is 16 bytes (§2.7.5)");

/* Ring stores must reach memory before the index store, and the index before the notify.
 * One vCPU and in-order MMIO: a compiler barrier is enough. */
#define barrier() __asm__ volatile("" ::: "memory")

static volatile uint16_t *avail(const struct virtq *q) { return (volatile uint16_t *)(q->page + 1024); }
static volatile uint16_t *used(const struct virtq *q) { return (volatile uint16_t *)(q->page + 2048); }

uint32_t vmmio_read(const struct vmmio *d, uint32_t off) {
  return *(volatile uint32_t *)(d->base + off);
}

void vmmio_write(const struct vmmio *d, uint32_t off, uint32_t v) {
  *(volatile uint32_t *)(d->base + off) = v;
}

uint32_t vmmio_open(struct vmmio *d, uint64_t base) {
  d->base = base;
  kmap_mmio(base & ~0xfffull);
  kmap_mmio((base + REG_CONFIG + 0xff) & ~0xfffull);
  if (vmmio_read(d, REG_MAGIC) != MAGIC || vmmio_read(d, REG_VERSION) != 2) return 0;
  return vmmio_read(d, REG_DEVICE_ID);
}

uint64_t vmmio_negotiate(const struct vmmio *d, uint64_t wanted) {
  vmmio_write(d, REG_STATUS, 0);
  vmmio_write(d, REG_STATUS, VIRTIO_STATUS_ACK);
  vmmio_write(d, REG_STATUS, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
  vmmio_write(d, REG_DEVICE_FEATURES_SEL, 0);
  uint64_t offered = vmmio_read(d, REG_DEVICE_FEATURES);
  vmmio_write(d, REG_DEVICE_FEATURES_SEL, 1);
  offered |= (uint64_t)vmmio_read(d, REG_DEVICE_FEATURES) << 32;
  uint64_t f = offered & (wanted | VIRTIO_F_VERSION_1);
  vmmio_write(d, REG_DRIVER_FEATURES_SEL, 0);
  vmmio_write(d, REG_DRIVER_FEATURES, (uint32_t)f);
  vmmio_write(d, REG_DRIVER_FEATURES_SEL, 1);
  vmmio_write(d, REG_DRIVER_FEATURES, (uint32_t)(f >> 32));
  uint32_t s = VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
  vmmio_write(d, REG_STATUS, s);
  if (!(f & VIRTIO_F_VERSION_1) || !(vmmio_read(d, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
    vmmio_write(d, REG_STATUS, s | VIRTIO_STATUS_FAILED);
    return 0;
  }
  return f;
}

uint32_t vmmio_status(const struct vmmio *d) { return vmmio_read(d, REG_STATUS); }

void vmmio_driver_ok(const struct vmmio *d) {
  vmmio_write(d, REG_STATUS, vmmio_read(d, REG_STATUS) | VIRTIO_STATUS_DRIVER_OK);
}

void vmmio_ack_interrupts(const struct vmmio *d) {
  uint32_t pending = vmmio_read(d, REG_INTERRUPT_STATUS);
  if (pending) vmmio_write(d, REG_INTERRUPT_ACK, pending);
}

uint32_t vmmio_config32(const struct vmmio *d, uint32_t off) {
  uint32_t gen, v;
  do { /* §4.2.2.2: retry until the generation is stable around the read */
    gen = vmmio_read(d, REG_CONFIG_GENERATION);
    v = vmmio_read(d, REG_CONFIG + off);
  } while (vmmio_read(d, REG_CONFIG_GENERATION) != gen);
  return v;
}

void vmmio_config_write32(const struct vmmio *d, uint32_t off, uint32_t v) {
  vmmio_write(d, REG_CONFIG + off, v);
}

static void write64(const struct vmmio *d, uint32_t reg, uint64_t v) {
  vmmio_write(d, reg, (uint32_t)v);
  vmmio_write(d, reg + 4, (uint32_t)(v >> 32));
}

int virtq_setup(const struct vmmio *d, struct virtq *q, uint16_t index) {
  vmmio_write(d, REG_QUEUE_SEL, index);
  if (vmmio_read(d, REG_QUEUE_READY)) return -1;
  uint32_t max = vmmio_read(d, REG_QUEUE_NUM_MAX);
  if (!max) return -1;
  uint64_t page = pmm_alloc_zeroed();
  if (!page) return -1;
  q->index = index;
  q->size = (uint16_t)(max < VQ_MAX_SIZE ? max : VQ_MAX_SIZE);
  q->next_avail = q->last_used = 0;
  q->busy = 0;
  q->page = page;
  vmmio_write(d, REG_QUEUE_NUM, q->size);
  write64(d, REG_QUEUE_DESC, page);
  write64(d, REG_QUEUE_DRIVER, page + 1024);
  write64(d, REG_QUEUE_DEVICE, page + 2048);
  vmmio_write(d, REG_QUEUE_READY, 1);
  return 0;
}

void virtq_submit(const struct vmmio *d, struct virtq *q, const struct vq_buf *bufs, int n) {
  struct vq_desc *desc = (struct vq_desc *)q->page;
  for (int i = 0; i < n; i++) {
    desc[i].addr = bufs[i].addr;
    desc[i].len = bufs[i].len;
    desc[i].flags = (uint16_t)((i + 1 < n ? DESC_F_NEXT : 0) |
                               (bufs[i].device_writable ? DESC_F_WRITE : 0));
    desc[i].next = (uint16_t)(i + 1 < n ? i + 1 : 0);
  }
  volatile uint16_t *a = avail(q);
  a[2 + q->next_avail % q->size] = 0; /* head: descriptor 0 */
  barrier();
  a[1] = ++q->next_avail;
  barrier();
  q->busy = 1;
  vmmio_write(d, REG_QUEUE_NOTIFY, q->index);
}

int virtq_reap(struct virtq *q) {
  if (!q->busy) return 0;
  uint16_t idx = used(q)[1];
  barrier();
  if (idx == q->last_used) return 0;
  q->last_used = idx;
  q->busy = 0;
  return 1;
}
