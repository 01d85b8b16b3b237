#include "free_page_report.h"

#include "pmm.h"

#define MAX_BLOCKS 32           /* 8 MiB per request */
#define MAX_REQUESTS_PER_POLL 32 /* 256 MiB per poll */
#define MAX_RUN_BLOCKS 16       /* 4 MiB: the device's per-buffer bound */

static const struct vmmio *dev;
static struct virtq *queue;
static uint64_t blocks[MAX_BLOCKS];
static int nblocks;
static uint64_t next_tick;

void free_page_report_init(const struct vmmio *d, struct virtq *q) {
  dev = d;
  queue = q;
}

/* Takes dirty free blocks and offers them as one chain; 0 if there were none. */
static int submit(void) {
  int max = queue->size < MAX_BLOCKS ? queue->size : MAX_BLOCKS;
  nblocks = pmm_take_dirty_blocks(blocks, max);
  if (!nblocks) return 0;
  struct vq_buf bufs[MAX_BLOCKS];
  const uint32_t block_bytes = PMM_BLOCK_PAGES * PAGE_SIZE;
  int n = 0;
  for (int i = 0; i < nblocks; i++) {
    uint64_t pa = blocks[i] * PAGE_SIZE;
    struct vq_buf *last = n ? &bufs[n - 1] : 0;
    if (last && last->addr + last->len == pa && last->len < MAX_RUN_BLOCKS * block_bytes) {
      last->len += block_bytes;
    } else {
      bufs[n++] = (struct vq_buf){pa, block_bytes, 1};
    }
  }
  virtq_submit(dev, queue, bufs, n);
  return 1;
}

/* Blocks go back to the allocator, clean, only once the device has used the chain. */
static void give_back(void) {
  for (int i = 0; i < nblocks; i++) pmm_return_reported(blocks[i]);
  nblocks = 0;
}

/* densevm and QEMU (TCG) both use the chain inside the notify; allow a little slack. */
static int wait_used(void) {
  for (int spin = 0; spin < 1000; spin++) {
    if (virtq_reap(queue)) return 1;
    __asm__ volatile("pause");
  }
  return 0;
}

void free_page_report_poll(uint64_t now) {
  if (!queue) return;
  if (queue->busy) { /* a chain from an earlier poll is still out */
    if (!virtq_reap(queue)) return;
    give_back();
  }
  if (now < next_tick) return;
  next_tick = now + REPORT_INTERVAL;
  for (int r = 0; r < MAX_REQUESTS_PER_POLL; r++) {
    if (!submit() || !wait_used()) return;
    give_back();
  }
}
