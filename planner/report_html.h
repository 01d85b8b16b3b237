// The plan as one self-contained HTML page for capacity planners: the fit table, inline SVG
// plots — host memory against VM count for each technique, a heat map of pairwise sharing,
// the placement on hosts — and the plan document itself as JSON in a
// <script type="application/json" id="densevm-plan"> element. No scripts run and nothing is
// fetched: the page opens the same from a mail attachment as from a web server.
//
//   std::string html = report_html(plan_document(fleet, fit, place, {.fit = true, ...}));
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace densevm::planner {

[[nodiscard]] std::string report_html(const nlohmann::ordered_json& doc);

}  // namespace densevm::planner
