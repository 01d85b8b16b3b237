#include "planner/placement.h"

#include <gtest/gtest.h>

#include "planner/fit.h"
#include "planner/internal/test_fingerprints.h"

namespace densevm::planner {
namespace {

using testing::mixed_vm;

// Two families of four VMs (think: two guest OS images): each VM holds its family's 400
// pages and 100 of its own. Families are listed interleaved.
Fleet families() {
  std::vector<Fingerprint> vms;
  for (uint64_t v = 0; v < 8; ++v) {
    vms.push_back(mixed_vm("vm" + std::to_string(v), 0, 400, 100, (v % 2) * 1'000'000, 10'000'000 + v * 1000));
  }
  return fleet_of(std::move(vms));
}

TEST(Placement, SharingAwarePlacementPutsFamiliesTogether) {
  const Fleet f = families();
  const PlaceResult r = place(f, {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .hosts = 8});
  EXPECT_EQ(r.capacity_pages, 1000u);
  EXPECT_EQ(r.baseline.hosts(), 4u) << "blind to sharing, two VMs of 500 pages a host";
  EXPECT_EQ(r.aware.hosts(), 2u) << "a family a host: 400 + 4 x 100 pages";
  EXPECT_TRUE(r.aware.optimal) << r.exact_note;
  for (size_t v = 0; v < 8; ++v) EXPECT_EQ(r.aware.host_of[v], r.aware.host_of[v % 2]) << v;
  EXPECT_EQ(r.aware.host_pages, (std::vector<uint64_t>{800, 800}));
  EXPECT_TRUE(r.aware_fits());
  for (const uint64_t pages : r.baseline.host_pages) EXPECT_LE(pages, r.capacity_pages);
}

TEST(Placement, TheVmmsOverheadTakesRoomOnEachHost) {
  // A family on a host is 800 pages: 50 pages of VMM per VM still fit (1000), 51 do not,
  // and two VMs of different families (551 each) never share a host: 2 hosts of 3 + 1 VMs.
  const Fleet f = families();
  const PlaceResult fits = place(f, {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .hosts = 8,
                                     .vmm = VmmOverhead::fixed(50 * kPageBytes)});
  EXPECT_EQ(fits.aware.hosts(), 2u) << fits.exact_note;
  EXPECT_EQ(fits.aware.host_pages, (std::vector<uint64_t>{1000, 1000}));
  EXPECT_EQ(fits.aware.host_vmm_pages, (std::vector<uint64_t>{200, 200}));
  EXPECT_EQ(fits.baseline.hosts(), 8u) << "blind to sharing, one VM of 550 pages a host";
  // A byte over 50 pages is a page more on the host.
  const PlaceResult over = place(f, {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .hosts = 8,
                                     .vmm = VmmOverhead::fixed(50 * kPageBytes + 1)});
  EXPECT_EQ(over.aware.hosts(), 4u) << over.exact_note;
  for (size_t h = 0; h < over.aware.hosts(); ++h) {
    EXPECT_LE(over.aware.host_pages[h], 1000u) << h;
    EXPECT_EQ(over.aware.host_vmm_pages[h] % 51, 0u) << h;
  }
  // 0 is the old placement.
  const PlaceResult none = place(f, {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .hosts = 8, .vmm = VmmOverhead{}});
  EXPECT_EQ(none.aware.host_pages, (std::vector<uint64_t>{800, 800}));
  EXPECT_EQ(none.aware.host_vmm_pages, (std::vector<uint64_t>{0, 0}));
}

TEST(Placement, TheExactModelFindsWhatFirstFitMisses) {
  // No sharing: bin packing. Sizes 5,5,4,4,3,3,3,3 (x100 pages) in hosts of 10: first-fit
  // decreasing needs 4 hosts, {5,5} {4,3,3} {4,3,3} needs 3.
  std::vector<Fingerprint> vms;
  const uint64_t sizes[] = {500, 300, 400, 300, 500, 300, 400, 300};
  for (uint64_t v = 0; v < 8; ++v) vms.push_back(mixed_vm("vm" + std::to_string(v), 0, 0, sizes[v], 0, v * 100000));
  const Fleet f = fleet_of(std::move(vms));
  const PlaceResult r = place(f, {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .hosts = 3});
  EXPECT_EQ(r.baseline.hosts(), 4u);
  EXPECT_FALSE(r.baseline_fits());
  EXPECT_EQ(r.aware.hosts(), 3u) << r.exact_note;
  EXPECT_TRUE(r.aware.optimal) << r.exact_note;
  EXPECT_TRUE(r.aware_fits());
  for (const uint64_t pages : r.aware.host_pages) EXPECT_LE(pages, 1000u);
  EXPECT_NE(r.aware.method.find("exact"), std::string::npos);
}

TEST(Placement, LargeFleetsSkipTheExactModelAndSayWhy) {
  const PlaceResult r = place(families(), {.host_bytes = 1200 * kPageBytes, .headroom_percent = 0, .hosts = 8, .exact_max_vms = 4});
  EXPECT_NE(r.exact_note.find("more than 4"), std::string::npos) << r.exact_note;
  EXPECT_FALSE(r.aware.optimal);
}

TEST(Placement, NoHostsOrAVmLargerThanAHostIsRefused) {
  EXPECT_THROW((void)place(families(), {.host_bytes = 1 << 30, .hosts = 0}), PlanError);
  try {
    (void)place(families(), {.host_bytes = 400 * kPageBytes, .headroom_percent = 0, .hosts = 4});
    FAIL();
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("vm0 needs"), std::string::npos) << e.what();
  }
  try {
    (void)place(families(), {.host_bytes = 600 * kPageBytes, .headroom_percent = 0, .hosts = 4,
                             .vmm = VmmOverhead::fixed(200 * kPageBytes)});
    FAIL();
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("and the VMM's 800.0 KiB"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace densevm::planner
