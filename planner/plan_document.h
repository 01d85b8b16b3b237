// The plan as one JSON document (schema `densevm-plan/2`, README "plan documents"): what
// `plan fit --json` and `plan place --json` print, what `plan report` writes beside its HTML,
// and what the text output and the HTML are drawn from, so all of them say the same.
//
//   nlohmann::ordered_json doc = plan_document(fleet, fit_options, place_options,
//                                              {.fit = true, .curves = true});
//   std::fputs(fit_text(doc).c_str(), stdout);
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "planner/fit.h"
#include "planner/fleet.h"
#include "planner/placement.h"
#include "planner/reference_pages.h"

namespace densevm::planner {

struct PlanParts {
  bool fit = false;       // "techniques"
  bool curves = false;    // host memory for the first m VMs, per technique
  bool sharing = false;   // pairwise sharing, first `sharing_max_vms` VMs
  size_t sharing_max_vms = 64;
  const std::vector<Reference>* references = nullptr;  // "references": how much of the fleet each is
};

// Throws PlanError (a host too small for any VM, no hosts). `place` adds "placement".
[[nodiscard]] nlohmann::ordered_json plan_document(const Fleet& fleet, const FitOptions& fit_options,
                                                   const std::optional<PlaceOptions>& place, const PlanParts& parts);

// The document's text for a terminal: the fit table, the placement summary.
[[nodiscard]] std::string fit_text(const nlohmann::ordered_json& doc);
[[nodiscard]] std::string placement_text(const nlohmann::ordered_json& doc);
// How the VMM's own memory per VM was counted, one line.
[[nodiscard]] std::string vmm_text(const nlohmann::ordered_json& doc);
// Each --reference: how much of it the VMs hold, one line each ("" without references).
[[nodiscard]] std::string references_text(const nlohmann::ordered_json& doc);
// The sketch's measured error, one line ("" for exact sets): printed with every result.
[[nodiscard]] std::string estimate_text(const nlohmann::ordered_json& doc);

}  // namespace densevm::planner
