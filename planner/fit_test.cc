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

TEST(Fit, AHostTooSmallForAnyVmIsRefused) {
  try {
    (void)fit(four(), {.host_bytes = 100 * kPageBytes, .headroom_percent = 0});
    FAIL();
  } catch (const PlanError& e) {
    EXPECT_NE(std::string(e.what()).find("too small for one VM"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace densevm::planner
