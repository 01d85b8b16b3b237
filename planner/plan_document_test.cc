#include "planner/plan_document.h"

#include <gtest/gtest.h>

#include "planner/internal/test_fingerprints.h"
#include "planner/report_html.h"

namespace densevm::planner {
namespace {

using testing::mixed_vm;

Fleet three() {
  std::vector<Fingerprint> vms;
  vms.push_back(mixed_vm("a.snap", 100, 400, 100, 0, 10000));
  vms.push_back(mixed_vm("b.snap", 100, 400, 100, 0, 20000));
  vms.push_back(mixed_vm("<c>&'\".snap", 100, 400, 100, 0, 30000));
  return fleet_of(std::move(vms));
}

TEST(PlanDocument, TechniquesMapEachNameToHostBytesAndVmsThatFit) {
  const FitOptions o{.host_bytes = 3000 * kPageBytes, .headroom_percent = 0};
  const auto doc = plan_document(three(), o, std::nullopt, {.fit = true});
  EXPECT_EQ(doc["schema"], "densevm-plan/2");
  EXPECT_EQ(doc["vmm_overhead"]["model"], "none");
  EXPECT_EQ(doc["estimate"]["method"], "exact");
  for (const char* t : {"none", "zero", "dedup", "dedup_scoped", "clones", "balloon"}) {
    ASSERT_TRUE(doc["techniques"].contains(t)) << t;
    EXPECT_TRUE(doc["techniques"][t]["host_bytes"].is_number_unsigned()) << t;
    EXPECT_TRUE(doc["techniques"][t]["vms_that_fit"].is_number_unsigned()) << t;
  }
  EXPECT_EQ(doc["techniques"]["dedup"]["host_bytes"].get<uint64_t>(), (400 + 300 + 1) * kPageBytes);
  EXPECT_EQ(doc["techniques"]["none"]["vms_that_fit"].get<uint64_t>(), 5u);
  EXPECT_EQ(doc["vms"][2]["name"], "<c>&'\".snap");
  EXPECT_FALSE(doc.contains("placement"));
  const std::string text = fit_text(doc);
  EXPECT_NE(text.find("dedup"), std::string::npos);
  EXPECT_NE(text.find("2.7 MiB"), std::string::npos) << text;  // dedup: 701 pages
  EXPECT_EQ(estimate_text(doc), "");
}

TEST(PlanDocument, PlacementAndTheReportsParts) {
  const FitOptions o{.host_bytes = 1100 * kPageBytes, .headroom_percent = 0};
  const PlaceOptions p{.host_bytes = 1100 * kPageBytes, .headroom_percent = 0, .hosts = 3};
  const auto doc = plan_document(three(), o, p, {.fit = true, .curves = true, .sharing = true});
  EXPECT_EQ(doc["placement"]["baseline"]["hosts_needed"].get<size_t>(), 2u) << "501 pages each, believed";
  EXPECT_EQ(doc["placement"]["sharing_aware"]["hosts_needed"].get<size_t>(), 1u) << "700 together";
  EXPECT_EQ(doc["placement"]["hosts_saved"].get<int64_t>(), 1);
  EXPECT_EQ(doc["curves"]["dedup"].size(), 3u);
  EXPECT_EQ(doc["sharing"]["shared_bytes"][0][1].get<uint64_t>(), 400 * kPageBytes);
  EXPECT_NE(placement_text(doc).find("saves 1 host"), std::string::npos) << placement_text(doc);

  const std::string html = report_html(doc);
  for (const char* id : {"id=\"curves\"", "id=\"sharing\"", "id=\"placement\"", "id=\"densevm-plan\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  const std::string visible = html.substr(0, html.find("<script"));
  EXPECT_EQ(visible.find("<c>"), std::string::npos) << "names are escaped";
  EXPECT_NE(visible.find("&lt;c&gt;&amp;&#39;&quot;.snap"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos) << "nothing is fetched";
  EXPECT_EQ(html.find("<script src"), std::string::npos);
}

TEST(PlanDocument, TheVmmsOverheadIsInEveryHostFigureAndSaidHow) {
  const VmmOverhead vmm = VmmOverhead::fixed(100 * kPageBytes);
  const FitOptions o{.host_bytes = 1100 * kPageBytes, .headroom_percent = 0, .vmm = vmm};
  const PlaceOptions p{.host_bytes = 1100 * kPageBytes, .headroom_percent = 0, .hosts = 3, .vmm = vmm};
  const auto doc = plan_document(three(), o, p, {.fit = true, .curves = true});
  EXPECT_EQ(doc["vmm_overhead"]["model"], "fixed");
  EXPECT_EQ(doc["vmm_overhead"]["per_vm_bytes"].get<uint64_t>(), 100 * kPageBytes);
  EXPECT_EQ(doc["vms"][1]["vmm_bytes"].get<uint64_t>(), 100 * kPageBytes);
  const auto& dedup = doc["techniques"]["dedup"];
  EXPECT_EQ(dedup["guest_bytes"].get<uint64_t>(), 701 * kPageBytes);
  EXPECT_EQ(dedup["vmm_bytes"].get<uint64_t>(), 300 * kPageBytes);
  EXPECT_EQ(dedup["host_bytes"].get<uint64_t>(), 1001 * kPageBytes);
  EXPECT_EQ(dedup["per_vm_bytes"].get<uint64_t>(), 1001 * kPageBytes / 3);
  EXPECT_EQ(doc["curves"]["dedup"][0].get<uint64_t>(), (501 + 100) * kPageBytes);
  EXPECT_EQ(doc["curves"]["dedup"][2].get<uint64_t>(), 1001 * kPageBytes);
  const auto& host = doc["placement"]["sharing_aware"]["hosts"][0];
  EXPECT_EQ(doc["placement"]["sharing_aware"]["hosts_needed"].get<size_t>(), 1u) << "1001 of 1100 pages";
  EXPECT_EQ(host["vmm_bytes"].get<uint64_t>(), 300 * kPageBytes);
  EXPECT_EQ(host["guest_bytes"].get<uint64_t>(), 701 * kPageBytes);
  EXPECT_EQ(host["host_bytes"].get<uint64_t>(), 1001 * kPageBytes);
  EXPECT_NE(fit_text(doc).find("400.0 KiB per VM (--vmm-overhead)"), std::string::npos) << fit_text(doc);
  const std::string html = report_html(doc);
  EXPECT_NE(html.find("of it the VMM's"), std::string::npos);
  EXPECT_NE(html.find("(the VMM's 1.2 MiB)"), std::string::npos) << "the placement's host titles";
  EXPECT_NE(html.find("400.0 KiB per VM"), std::string::npos);

  const auto model = plan_document(three(), {.host_bytes = 1 << 30, .vmm = VmmOverhead::model()}, std::nullopt, {.fit = true});
  EXPECT_EQ(model["vmm_overhead"]["model"], "auto");
  EXPECT_GT(model["vmm_overhead"]["code_bytes"].get<uint64_t>(), model["vmm_overhead"]["clone_code_bytes"].get<uint64_t>());
  EXPECT_LT(model["techniques"]["clones"]["vmm_bytes"].get<uint64_t>(), model["techniques"]["dedup"]["vmm_bytes"].get<uint64_t>());
}

TEST(PlanDocument, TheEmbeddedJsonCannotCloseItsScriptElement) {
  std::vector<Fingerprint> vms{mixed_vm("</script><b>x", 0, 0, 10, 0, 1)};
  const auto doc = plan_document(fleet_of(std::move(vms)), {.host_bytes = 1 << 20}, std::nullopt, {.fit = true});
  const std::string html = report_html(doc);
  EXPECT_EQ(html.find("</script><b>"), std::string::npos);
  const size_t open = html.find("id=\"densevm-plan\">") + 18;
  const size_t close = html.find("</script>", open);
  std::string json = html.substr(open, close - open);
  for (size_t i; (i = json.find("<\\/")) != std::string::npos;) json.replace(i, 3, "</");
  EXPECT_EQ(nlohmann::ordered_json::parse(json), doc);
}

}  // namespace
}  // namespace densevm::planner

namespace densevm::planner {
namespace {

TEST(PlanDocument, LongCurvesAndNamesAreDrawnWhole) {
  std::vector<Fingerprint> vms;
  for (uint64_t v = 0; v < 300; ++v) {
    vms.push_back(testing::mixed_vm("a-rather-long-image-name-" + std::string(100, 'x') + std::to_string(v), 1, 2, 3, 0, 1000 * v + 100));
  }
  const auto doc = plan_document(fleet_of(std::move(vms)), {.host_bytes = 1 << 30}, std::nullopt,
                                 {.fit = true, .curves = true, .sharing = true, .sharing_max_vms = 4});
  const std::string html = report_html(doc);
  const size_t at = html.find("<polyline");
  ASSERT_NE(at, std::string::npos);
  const std::string polyline = html.substr(at, html.find("/>", at) - at);
  EXPECT_EQ(std::count(polyline.begin(), polyline.end(), ','), 300) << "one point per VM count";
  EXPECT_NE(html.find(std::string(100, 'x') + "3 / a-rather"), std::string::npos) << "heat map titles are not cut";
}

}  // namespace
}  // namespace densevm::planner
