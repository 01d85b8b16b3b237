#include "balloon.h"

#include "apic.h"
#include "console.h"
#include "free_page_report.h"
#include "lib/kv.h"
#include "pmm.h"
#include "virtq.h"

/* §5.5.3 features, §5.5.4 config, §5.5.6.3 statistic tags. */
#define F_STATS_VQ (1ull << 1)
#define F_DEFLATE_ON_OOM (1ull << 2)
#define F_REPORTING (1ull << 5)
#define CFG_NUM_PAGES 0
#define CFG_ACTUAL 4
#define TAG_MEMFREE 4
#define TAG_MEMTOT 5
#define TAG_AVAIL 6
#define VIRTIO_ID_BALLOON 5

#define PFNS_PER_REQUEST 1024   /* one page of le32 PFNs */
#define MAX_PAGES_PER_POLL 65536 /* 256 MiB per tick */
#define OOM_DEFLATE_PAGES 256   /* as Linux's VIRTIO_BALLOON_OOM_NR_PAGES */
#define BMAP_PFNS_PER_PAGE 32768
#define BMAP_DIR 4096           /* 4096 bitmap pages cover 512 GiB */

struct stat_entry {
  uint16_t tag;
  uint64_t val;
} __attribute__((packed));
_Static_assert(sizeof(struct stat_entry) == 10, "virtio_balloon_stat is 10 bytes");

static struct vmmio dev;
static struct virtq inflate_q, deflate_q, stats_q, report_q;
static uint64_t features;
static int enabled, busy;       /* busy: inside the driver (no OOM re-entry) */
static uint32_t *pfns;          /* one page, shared by inflate and deflate requests */
static struct stat_entry *stats;
static uint64_t *bmap[BMAP_DIR]; /* pages in the balloon, one bit per PFN */
static uint64_t held, last_actual, last_tick, reserve;
static uint64_t log_on, last_target, target_tick, moved_since; /* balloon_log=1 */

static int bmap_set(uint64_t pfn) {
  uint64_t *page = bmap[pfn / BMAP_PFNS_PER_PAGE];
  if (!page) {
    page = (uint64_t *)pmm_alloc_zeroed();
    if (!page) return -1;
    bmap[pfn / BMAP_PFNS_PER_PAGE] = page;
  }
  uint64_t bit = pfn % BMAP_PFNS_PER_PAGE;
  page[bit / 64] |= 1ull << (bit % 64);
  return 0;
}

/* Takes up to max PFNs out of the balloon bitmap into pfns[]. */
static uint32_t bmap_take(uint32_t max) {
  uint32_t n = 0;
  for (uint64_t d = 0; d < BMAP_DIR && n < max; d++) {
    if (!bmap[d]) continue;
    for (uint64_t w = 0; w < BMAP_PFNS_PER_PAGE / 64 && n < max; w++) {
      uint64_t bits = bmap[d][w], first = d * BMAP_PFNS_PER_PAGE + w * 64;
      for (uint64_t b = 0; bits && b < 64 && n < max; b++) {
        if (!((bits >> b) & 1)) continue;
        bits &= ~(1ull << b);
        pfns[n++] = (uint32_t)(first + b);
      }
      bmap[d][w] = bits;
    }
  }
  return n;
}

/* densevm and QEMU (TCG) both use the chain inside the notify; allow a little slack. */
static int wait_used(struct virtq *q) {
  for (int spin = 0; spin < 1000; spin++) {
    if (virtq_reap(q)) return 1;
    __asm__ volatile("pause");
  }
  return 0;
}

static void send_pfns(struct virtq *q, uint32_t n) {
  struct vq_buf b = {(uint64_t)pfns, n * 4u, 0};
  virtq_submit(&dev, q, &b, 1);
}

/* Inflates by up to want pages, never leaving the guest less than `reserve` free pages. */
static uint32_t inflate(uint64_t want) {
  if (inflate_q.busy || deflate_q.busy) return 0;
  uint32_t max = want < PFNS_PER_REQUEST ? (uint32_t)want : PFNS_PER_REQUEST;
  uint32_t n = pmm_alloc_batch(pfns, max, reserve);
  for (uint32_t i = 0; i < n; i++) {
    if (bmap_set(pfns[i]) == 0) continue;
    for (uint32_t j = i; j < n; j++) pmm_free((uint64_t)pfns[j] * PAGE_SIZE); /* no bitmap page */
    n = i;
  }
  if (!n) return 0;
  send_pfns(&inflate_q, n);
  held += n;
  return wait_used(&inflate_q) ? n : 0;
}

/* Deflates up to want pages; they are the allocator's again at once (no MUST_TELL_HOST). */
static uint32_t deflate(uint64_t want) {
  if (inflate_q.busy || deflate_q.busy) return 0;
  uint32_t n = bmap_take(want < PFNS_PER_REQUEST ? (uint32_t)want : PFNS_PER_REQUEST);
  if (!n) return 0;
  send_pfns(&deflate_q, n);
  for (uint32_t i = 0; i < n; i++) pmm_free_clean((uint64_t)pfns[i] * PAGE_SIZE);
  held -= n;
  return wait_used(&deflate_q) ? n : 0;
}

static void update_actual(void) {
  if (held == last_actual) return;
  vmmio_config_write32(&dev, CFG_ACTUAL, (uint32_t)held);
  last_actual = held;
}

/* DEFLATE_ON_OOM (§5.5.6.1): the page allocator found nothing free. */
static uint64_t deflate_on_oom(void) {
  if (!enabled || busy || !held) return 0;
  busy = 1;
  (void)virtq_reap(&inflate_q);
  (void)virtq_reap(&deflate_q);
  uint64_t n = deflate(OOM_DEFLATE_PAGES);
  update_actual();
  busy = 0;
  return n;
}

static void stats_submit(void) {
  stats[0] = (struct stat_entry){TAG_MEMFREE, pmm_free_pages() * PAGE_SIZE};
  stats[1] = (struct stat_entry){TAG_MEMTOT, pmm_total_pages() * PAGE_SIZE};
  stats[2] = (struct stat_entry){TAG_AVAIL, pmm_free_pages() * PAGE_SIZE};
  struct vq_buf b = {(uint64_t)stats, 3 * sizeof *stats, 0};
  virtq_submit(&dev, &stats_q, &b, 1);
}

/* balloon_log=1: one line when a new target is reached, in ticks of virtual time. */
static void log_progress(uint64_t target, uint64_t moved) {
  if (target != last_target) {
    if (last_target == held) moved_since = 0;
    if (!moved_since) target_tick = ticks;
    last_target = target;
  }
  moved_since += moved;
  if (moved && held == target) {
    kprintf("virtio-balloon: %lu pages held, %lu moved in %lu ticks\n", held, moved_since,
            ticks - target_tick + 1);
    moved_since = 0;
  }
}

void balloon_poll(void) {
  if (!enabled || ticks == last_tick) return;
  last_tick = ticks;
  if (vmmio_status(&dev) & VIRTIO_STATUS_NEEDS_RESET) {
    kprintf("virtio-balloon: device needs reset; driver stopped\n");
    enabled = 0;
    return;
  }
  vmmio_ack_interrupts(&dev);
  busy = 1;
  (void)virtq_reap(&inflate_q);
  (void)virtq_reap(&deflate_q);
  int want_stats = (features & F_STATS_VQ) && virtq_reap(&stats_q); /* host wants figures */
  uint64_t target = vmmio_config32(&dev, CFG_NUM_PAGES), moved = 0;
  while (held < target && moved < MAX_PAGES_PER_POLL) {
    uint32_t n = inflate(target - held);
    if (!n) break;
    moved += n;
  }
  while (held > target && moved < MAX_PAGES_PER_POLL) {
    uint32_t n = deflate(held - target);
    if (!n) break;
    moved += n;
  }
  update_actual();
  if (log_on) log_progress(target, moved);
  if (features & F_REPORTING) free_page_report_poll(ticks);
  /* Last, so free memory and `actual` describe the same moment. */
  if (want_stats) stats_submit();
  busy = 0;
}

static int setup(uint64_t report) {
  uint64_t want = F_STATS_VQ | F_DEFLATE_ON_OOM | (report ? F_REPORTING : 0);
  features = vmmio_negotiate(&dev, want);
  if (!features) return -1;
  /* Queue indexes are compacted by the features (Linux and QEMU agree). */
  uint16_t next = 2;
  if (virtq_setup(&dev, &inflate_q, 0) || virtq_setup(&dev, &deflate_q, 1)) return -1;
  if ((features & F_STATS_VQ) && virtq_setup(&dev, &stats_q, next++)) return -1;
  if ((features & F_REPORTING) && virtq_setup(&dev, &report_q, next++)) return -1;
  pfns = (uint32_t *)pmm_alloc_zeroed();
  stats = (struct stat_entry *)pmm_alloc_zeroed();
  if (!pfns || !stats) return -1;
  vmmio_driver_ok(&dev);
  if (features & F_STATS_VQ) stats_submit(); /* the initial buffer (§5.5.6.3) */
  if (features & F_REPORTING) free_page_report_init(&dev, &report_q);
  return 0;
}

void balloon_init(const char *cmdline, const struct virtio_mmio_dev *devs, int ndevs) {
  uint64_t on = 1, report = 1;
  kv_u64(cmdline, "balloon", &on);
  kv_u64(cmdline, "balloon_report", &report);
  kv_u64(cmdline, "balloon_log", &log_on);
  if (!on) return;
  for (int i = 0; i < ndevs; i++) {
    if (vmmio_open(&dev, devs[i].base) != VIRTIO_ID_BALLOON) continue;
    if (setup(report) != 0) {
      kprintf("virtio-balloon: device at %#lx refused setup\n", devs[i].base);
      return;
    }
    uint64_t total = pmm_total_pages();
    reserve = total / 64 > 1024 ? total / 64 : 1024;
    enabled = 1;
    if (features & F_DEFLATE_ON_OOM) pmm_set_oom_hook(deflate_on_oom);
    kprintf("virtio-balloon: at %#lx, features%s%s%s\n", devs[i].base,
            features & F_STATS_VQ ? " stats" : "",
            features & F_DEFLATE_ON_OOM ? " deflate-on-oom" : "",
            features & F_REPORTING ? " reporting" : "");
    return;
  }
}
