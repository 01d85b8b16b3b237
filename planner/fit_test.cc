#include "planner/fit.h"

#include <gtest/gtest.h>

#include "planner/internal/test_fingerprints.h"

namespace densevm::planner {
namespace {

using testing::content;
using testing::kZero;
using testing::mixed_vm;

// 4 VMs of 1000 pages: 300 zero, 400 shared by all, 300 their own.
Fleet four() {
  std::vector<Fingerprint> vms;
  for (uint64_t v = 0; v < 4; ++v) vms.push_back(mixed_vm("vm" + std::to_string(v), 300, 400, 300, 0, 10000 * (v + 1)));
  return fleet_of(std::move(vms));
}

TEST(Fit, EachTechniquesHostMemoryForTheMix) {
  const Fleet f = four();
  const FitResult r = fit(f, {.host_bytes = 10000 * kPageBytes, .headroom_percent = 0});
  EXPECT_EQ(r.of(Technique::kNone).host_bytes, 4000 * kPageBytes);
  EXPECT_EQ(r.of(Technique::kZero).host_bytes, 2800 * kPageBytes);
  EXPECT_EQ(r.of(Technique::kDedup).host_bytes, (400 + 4 * 300 + 1) * kPageBytes) << "shared once, the zero frame";
  EXPECT_EQ(r.of(Technique::kDedupScoped).host_bytes, (4 * 700 + 1) * kPageBytes) << "scope vm by default";
  EXPECT_EQ(r.of(Technique::kClones).host_bytes, (700 + 3 * 300) * kPageBytes) << "template vm0, each clone owns its own";
  EXPECT_EQ(r.of(Technique::kBalloon).host_bytes, 2800 * kPageBytes) << "no working set recorded";
  EXPECT_EQ(r.working_sets_known, 0u);
  EXPECT_EQ(r.of(Technique::kNone).vms_that_fit, 10u);
  EXPECT_EQ(r.of(Technique::kDedup).vms_that_fit, 10000u * 4 / 1601);
  EXPECT_DOUBLE_EQ(r.of(Technique::kDedup).consolidation_ratio, 4000.0 / 1601.0);
}

TEST(Fit, GroupScopesShareWithinEachGroupOnly) {
  const Fleet f = four();
  const FitResult r = fit(f, {.host_bytes = 1 << 30, .headroom_percent = 0, .scope = DedupScope::kGroup, .groups = 2});
  EXPECT_EQ(r.of(Technique::kDedupScoped).host_bytes, (2 * 400 + 4 * 300 + 1) * kPageBytes);
  const FitResult host = fit(f, {.host_bytes = 1 << 30, .headroom_percent = 0, .scope = DedupScope::kHost});
  EXPECT_EQ(host.of(Technique::kDedupScoped).host_bytes, host.of(Technique::kDedup).host_bytes);
}

TEST(Fit, TheBalloonTakesEachVmDownToItsWorkingSet) {
  Fleet f = four();
  f.vms[0].working_set_pages = 100;
  f.vms[1].working_set_pages = 5000;  // more than it holds: its non-zero pages
  const FitResult r = fit(f, {.host_bytes = 1 << 30});
  EXPECT_EQ(r.of(Technique::kBalloon).host_bytes, (100 + 700 + 700 + 700) * kPageBytes);
  EXPECT_EQ(r.working_sets_known, 2u);
}

TEST(Fit, HeadroomIsKeptFree) {
  const FitResult r = fit(four(), {.host_bytes = 10000 * kPageBytes, .headroom_percent = 20});
  EXPECT_EQ(r.usable_bytes, 8000 * kPageBytes);
  EXPECT_EQ(r.of(Technique::kNone).vms_that_fit, 8u);
}

TEST(Fit, ClonesDivergeWhereTheirPagesDifferFromTheTemplatesAtTheSameAddress) {
  // Same contents, other places: content sharing sees them, clones do not.
  const Fingerprint t = testing::synthetic_vm("t", {content(1), content(2), kZero, content(3)});
  const Fingerprint v = testing::synthetic_vm("v", {content(2), content(1), content(7), content(3)});
  EXPECT_EQ(diverged_pages(v, t), 3u);
  const Fingerprint longer = testing::synthetic_vm("w", {content(1), content(2), kZero, content(3), content(4)});
  EXPECT_EQ(diverged_pages(longer, t), 1u) << "a page the template does not have";
}

TEST(Fit, ClonesFromPositionSamplesEstimateTheExactDivergence) {
  std::vector<uint64_t> th, vh;
  // 2^20 pages: about 4096 samples, a 2.7% relative standard error on a quarter.
  for (uint64_t i = 0; i < (1u << 20); ++i) {
    th.push_back(content(i));
    vh.push_back(i % 4 == 0 ? content(1000000 + i) : content(i));  // a quarter rewritten
  }
  Fingerprint t = testing::synthetic_vm("t", th);
  Fingerprint v = testing::synthetic_vm("v", vh);
  EXPECT_EQ(diverged_pages(v, t), 1u << 18);
  t.page_hashes.clear();
  v.page_hashes.clear();
  EXPECT_NEAR(static_cast<double>(diverged_pages(v, t)), 262144.0, 262144.0 * 0.12);
}

TEST(Fit, TheCurveGrowsVmByVm) {
  const std::vector<uint64_t> c = host_pages_curve(four(), Technique::kDedup, {});
  EXPECT_EQ(c, (std::vector<uint64_t>{701, 1001, 1301, 1601}));
}

// Per VM: 10 pages, 10% of its 700 non-zero pages, and 50 pages of code (5 for a clone).
constexpr VmmOverhead kModel{.kind = VmmOverhead::Kind::kModel, .fixed_bytes = 10 * kPageBytes, .table_ppm = 100'000,
                             .code_bytes = 50 * kPageBytes, .clone_code_bytes = 5 * kPageBytes};

TEST(Fit, TheVmmsOverheadIsAddedPerVmAndFitsFewerVms) {
  const Fleet f = four();
  const FitResult old = fit(f, {.host_bytes = 10000 * kPageBytes, .headroom_percent = 0});
  const FitResult r = fit(f, {.host_bytes = 10000 * kPageBytes, .headroom_percent = 0, .vmm = VmmOverhead::fixed(100 * kPageBytes)});
  for (const Technique t : kTechniques) {
    SCOPED_TRACE(technique_name(t));
    EXPECT_EQ(old.of(t).vmm_bytes, 0u) << "none by default: the guest pages alone";
    EXPECT_EQ(old.of(t).host_bytes, old.of(t).guest_bytes);
    EXPECT_EQ(r.of(t).guest_bytes, old.of(t).guest_bytes);
    EXPECT_EQ(r.of(t).vmm_bytes, 4 * 100 * kPageBytes) << "a flat figure: clones too";
    EXPECT_EQ(r.of(t).host_bytes, r.of(t).guest_bytes + r.of(t).vmm_bytes);
  }
  EXPECT_EQ(old.of(Technique::kNone).vms_that_fit, 10u);
  EXPECT_EQ(r.of(Technique::kNone).vms_that_fit, 9u) << "40000 / 4400 pages";
  EXPECT_EQ(old.of(Technique::kZero).vms_that_fit, 14u);
  EXPECT_EQ(r.of(Technique::kZero).vms_that_fit, 12u) << "40000 / 3200 pages";
  EXPECT_EQ(r.of(Technique::kDedup).vms_that_fit, 10000u * 4 / 2001);
  EXPECT_DOUBLE_EQ(r.of(Technique::kDedup).consolidation_ratio, 4400.0 / 2001.0);
}

TEST(Fit, TheModelGrowsWithGuestMemoryAndClonesCarryLessCode) {
  const Fleet f = four();
  EXPECT_EQ(kModel.vm_bytes(f.vms[0], false), (10 + 70 + 50) * kPageBytes);
  EXPECT_EQ(kModel.vm_bytes(f.vms[0], true), (10 + 70 + 5) * kPageBytes);
  const FitResult r = fit(f, {.host_bytes = 10000 * kPageBytes, .headroom_percent = 0, .vmm = kModel});
  EXPECT_EQ(r.of(Technique::kDedup).host_bytes, (1601 + 4 * 130) * kPageBytes);
  EXPECT_EQ(r.of(Technique::kClones).host_bytes, (1600 + 130 + 3 * 85) * kPageBytes) << "the template's own, then clones";
  EXPECT_EQ(vmm_bytes_curve(f, Technique::kClones, {.vmm = kModel}),
            (std::vector<uint64_t>{130 * kPageBytes, 215 * kPageBytes, 300 * kPageBytes, 385 * kPageBytes}));
  EXPECT_EQ(vmm_bytes_curve(f, Technique::kZero, {}), (std::vector<uint64_t>{0, 0, 0, 0}));
}

TEST(Fit, AHostTooSmallForAnyVmIsRefused) {
  try {
    (void)fit(four(), {.host_bytes = 100 * kPageBytes, .headroom_percent = 0});
    FAIL();
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("too small for one VM"), std::string::npos) << e.what();
  }
  // 1000 pages hold a VM of the mix (its share of 1600 pages with clones), not with the
  // VMM's 700 pages each.
  EXPECT_NO_THROW((void)fit(four(), {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0}));
  try {
    (void)fit(four(), {.host_bytes = 1000 * kPageBytes, .headroom_percent = 0, .vmm = VmmOverhead::fixed(700 * kPageBytes)});
    FAIL();
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("2.7 MiB of it the VMM's own"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace densevm::planner
