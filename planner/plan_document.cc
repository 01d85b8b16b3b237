#include "planner/plan_document.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "planner/format.h"

namespace densevm::planner {
namespace {

using nlohmann::ordered_json;

ordered_json vms_json(const Fleet& fleet, const VmmOverhead& vmm) {
  ordered_json vms = ordered_json::array();
  for (const Fingerprint& fp : fleet.vms) {
    vms.push_back({{"name", fp.name},
                   {"image", image_kind_name(fp.kind)},
                   {"ram_bytes", fp.ram_pages * kPageBytes},
                   {"zero_bytes", fp.zero_pages * kPageBytes},
                   {"nonzero_bytes", fp.nonzero_pages() * kPageBytes},
                   {"distinct_bytes", fp.distinct_pages * kPageBytes},
                   {"working_set_bytes", fp.working_set_pages ? ordered_json(*fp.working_set_pages * kPageBytes) : ordered_json()},
                   {"vmm_bytes", vmm.vm_bytes(fp, false)}});
  }
  return vms;
}

// How the VMM's own memory per VM was counted (vmm_overhead.h).
ordered_json vmm_json(const VmmOverhead& o) {
  ordered_json j = {{"model", o.kind_name()}};
  if (o.kind == VmmOverhead::Kind::kFixed) j["per_vm_bytes"] = o.fixed_bytes;
  if (o.kind == VmmOverhead::Kind::kModel) {
    j["fixed_bytes"] = o.fixed_bytes;
    j["table_ppm"] = o.table_ppm;
    j["code_bytes"] = o.code_bytes;
    j["clone_code_bytes"] = o.clone_code_bytes;
    j["guest_code"] = guest_code_name(o.code);
    j["measured"] = "BENCHMARKS.md, \"The VMM's own memory per VM\"";
  }
  return j;
}

ordered_json estimate_json(const Fleet& fleet) {
  if (!fleet.check) return {{"method", "exact"}};
  const SketchCheck& c = *fleet.check;
  return {{"method", "kmv"},
          {"k", c.k},
          {"expected_error", c.expected_error},
          {"checked_vms", c.vms},
          {"checked_exact_bytes", c.exact_pages * kPageBytes},
          {"checked_sketch_bytes", c.sketch_pages * kPageBytes},
          {"measured_error", c.max_error}};
}

ordered_json techniques_json(const Fleet& fleet, const FitOptions& o, const FitResult& r) {
  ordered_json out = ordered_json::object();
  for (const TechniqueFit& t : r.techniques) {
    ordered_json j = {{"host_bytes", t.host_bytes},
                      {"guest_bytes", t.guest_bytes},
                      {"vmm_bytes", t.vmm_bytes},
                      {"vms_that_fit", t.vms_that_fit},
                      {"per_vm_bytes", t.host_bytes / fleet.size()},
                      {"consolidation_ratio", t.consolidation_ratio}};
    if (t.technique == Technique::kDedupScoped) {
      j["scope"] = scope_name(o.scope);
      j["groups"] = o.scope == DedupScope::kGroup ? o.groups : o.scope == DedupScope::kHost ? 1u : fleet.size();
    }
    if (t.technique == Technique::kClones) {
      j["template"] = fleet.vms.front().name;
      j["estimated_from_samples"] = fleet.vms.front().page_hashes.empty();
    }
    if (t.technique == Technique::kBalloon) j["working_sets_known"] = r.working_sets_known;
    out[technique_name(t.technique)] = j;
  }
  return out;
}

ordered_json placement_json(const PlaceResult& r) {
  auto one = [&](const Placement& p, bool fits) {
    ordered_json hosts = ordered_json::array();
    for (size_t h = 0; h < p.hosts(); ++h) {
      ordered_json vms = ordered_json::array();
      for (size_t v = 0; v < p.host_of.size(); ++v) {
        if (p.host_of[v] == h) vms.push_back(v);
      }
      hosts.push_back({{"host_bytes", p.host_pages[h] * kPageBytes},
                       {"guest_bytes", (p.host_pages[h] - p.host_vmm_pages[h]) * kPageBytes},
                       {"vmm_bytes", p.host_vmm_pages[h] * kPageBytes},
                       {"vms", vms}});
    }
    return ordered_json{{"method", p.method}, {"hosts_needed", p.hosts()}, {"fits", fits}, {"optimal", p.optimal}, {"hosts", hosts}};
  };
  const size_t b = r.baseline.hosts(), a = r.aware.hosts();
  return {{"hosts_available", r.hosts_available},
          {"host_usable_bytes", r.capacity_pages * kPageBytes},
          {"baseline", one(r.baseline, r.baseline_fits())},
          {"sharing_aware", one(r.aware, r.aware_fits())},
          {"hosts_saved", static_cast<int64_t>(b) - static_cast<int64_t>(a)},
          {"capacity_gain", static_cast<double>(b) / static_cast<double>(a) - 1.0},
          {"exact_model", r.exact_note}};
}

ordered_json curves_json(const Fleet& fleet, const FitOptions& o) {
  ordered_json out = ordered_json::object();
  for (const Technique t : kTechniques) {
    ordered_json bytes = ordered_json::array();
    const std::vector<uint64_t> pages = host_pages_curve(fleet, t, o);
    const std::vector<uint64_t> vmm = vmm_bytes_curve(fleet, t, o);
    for (size_t m = 0; m < pages.size(); ++m) bytes.push_back(pages[m] * kPageBytes + vmm[m]);
    out[technique_name(t)] = bytes;
  }
  return out;
}

ordered_json sharing_json(const Fleet& fleet, size_t max_vms) {
  const size_t n = std::min(fleet.size(), max_vms);
  ordered_json shared = ordered_json::array();
  for (size_t a = 0; a < n; ++a) {
    ordered_json row = ordered_json::array();
    for (size_t b = 0; b < n; ++b) row.push_back(fleet.sets.shared_pages(a, b) * kPageBytes);
    shared.push_back(row);
  }
  return {{"vms", n}, {"of", fleet.size()}, {"shared_bytes", shared}};
}

ordered_json references_json(const Fleet& fleet, const std::vector<Reference>& refs) {
  ordered_json out = ordered_json::array();
  for (const Reference& r : refs) {
    const ReferenceMatch m = match_reference(fleet, r);
    out.push_back({{"label", r.label},
                   {"path", r.path},
                   {"layout", r.layout},
                   {"reference_bytes", m.reference_pages * kPageBytes},
                   {"found_bytes", m.found_pages * kPageBytes},
                   {"in_every_vm_bytes", m.in_every_vm * kPageBytes},
                   {"fleet_bytes", m.fleet_pages * kPageBytes}});
  }
  return out;
}

// printf into a string of whatever length it takes (names and point lists can be long).
std::string line(const char* format, auto... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.pop_back();
  return out;
}

}  // namespace

ordered_json plan_document(const Fleet& fleet, const FitOptions& fit_options, const std::optional<PlaceOptions>& place,
                           const PlanParts& parts) {
  ordered_json doc = {{"schema", "densevm-plan/2"},
                      {"host", {{"memory_bytes", fit_options.host_bytes},
                                {"headroom_percent", fit_options.headroom_percent},
                                {"usable_bytes", fit_options.usable_bytes()}}},
                      {"vmm_overhead", vmm_json(fit_options.vmm)},
                      {"estimate", estimate_json(fleet)},
                      {"vms", vms_json(fleet, fit_options.vmm)}};
  if (parts.fit) doc["techniques"] = techniques_json(fleet, fit_options, fit(fleet, fit_options));
  if (parts.curves) doc["curves"] = curves_json(fleet, fit_options);
  if (parts.sharing) doc["sharing"] = sharing_json(fleet, parts.sharing_max_vms);
  if (parts.references && !parts.references->empty()) doc["references"] = references_json(fleet, *parts.references);
  if (place) doc["placement"] = placement_json(planner::place(fleet, *place));
  return doc;
}

std::string references_text(const ordered_json& doc) {
  if (!doc.contains("references")) return "";
  std::string out;
  const size_t n = doc["vms"].size();
  for (const auto& r : doc["references"]) {
    out += line("%s (%s, %s of distinct pages): %s of it in the VMs, %s in all %zu; %s of the VMs' memory is it\n",
                r["label"].get<std::string>().c_str(), r["layout"].get<std::string>().c_str(),
                format_bytes(r["reference_bytes"].get<uint64_t>()).c_str(), format_bytes(r["found_bytes"].get<uint64_t>()).c_str(),
                format_bytes(r["in_every_vm_bytes"].get<uint64_t>()).c_str(), n, format_bytes(r["fleet_bytes"].get<uint64_t>()).c_str());
  }
  return out;
}

std::string estimate_text(const ordered_json& doc) {
  const ordered_json& e = doc["estimate"];
  if (e["method"] == "exact") return "";
  return line("sketched page sets (KMV, k=%u): expected error %s; checked on %u VMs: %s exact, %s sketched, error %s\n",
              e["k"].get<unsigned>(), ("+/-" + format_percent(e["expected_error"].get<double>())).c_str(),
              e["checked_vms"].get<unsigned>(), format_bytes(e["checked_exact_bytes"].get<uint64_t>()).c_str(),
              format_bytes(e["checked_sketch_bytes"].get<uint64_t>()).c_str(),
              format_percent(e["measured_error"].get<double>()).c_str());
}

std::string vmm_text(const ordered_json& doc) {
  const ordered_json& o = doc["vmm_overhead"];
  if (o["model"] == "none") return "the VMM's own memory per VM not counted (--vmm-overhead 0): guest pages only\n";
  if (o["model"] == "fixed") {
    return line("with the VMM's own memory: %s per VM (--vmm-overhead)\n", format_bytes(o["per_vm_bytes"].get<uint64_t>()).c_str());
  }
  return line("with the VMM's own memory per VM (measured model, %s guests): %s + %.1f%% of its non-zero pages + %s of "
              "code caches (%s for a clone sharing its template's)\n",
              o["guest_code"].get<std::string>().c_str(), format_bytes(o["fixed_bytes"].get<uint64_t>()).c_str(),
              static_cast<double>(o["table_ppm"].get<uint64_t>()) / 1e4,
              format_bytes(o["code_bytes"].get<uint64_t>()).c_str(), format_bytes(o["clone_code_bytes"].get<uint64_t>()).c_str());
}

std::string fit_text(const ordered_json& doc) {
  const ordered_json& host = doc["host"];
  std::string out = line("%zu VM%s on a host of %s (%s usable after %u%% headroom)\n", doc["vms"].size(), doc["vms"].size() == 1 ? "" : "s",
                         format_bytes(host["memory_bytes"].get<uint64_t>()).c_str(),
                         format_bytes(host["usable_bytes"].get<uint64_t>()).c_str(), host["headroom_percent"].get<unsigned>());
  out += vmm_text(doc);
  out += line("%-14s %12s %12s %12s %13s %8s\n", "technique", "host memory", "per VM", "VMM per VM", "VMs that fit", "ratio");
  for (const auto& [name, t] : doc["techniques"].items()) {
    std::string note;
    if (name == "dedup_scoped") {
      note = "  scope " + t["scope"].get<std::string>();
      if (t["scope"] == "group") note += ", " + std::to_string(t["groups"].get<size_t>()) + " groups";
    }
    if (name == "clones") note = "  template " + t["template"].get<std::string>() + (t["estimated_from_samples"].get<bool>() ? ", from position samples" : "");
    if (name == "balloon") note = "  working set known for " + std::to_string(t["working_sets_known"].get<unsigned>()) + " of " + std::to_string(doc["vms"].size()) + " VMs";
    out += line("%-14s %12s %12s %12s %13" PRIu64 " %7.2fx%s\n", name.c_str(), format_bytes(t["host_bytes"].get<uint64_t>()).c_str(),
                format_bytes(t["per_vm_bytes"].get<uint64_t>()).c_str(),
                format_bytes(t["vmm_bytes"].get<uint64_t>() / doc["vms"].size()).c_str(), t["vms_that_fit"].get<uint64_t>(),
                t["consolidation_ratio"].get<double>(), note.c_str());
  }
  return out + references_text(doc) + estimate_text(doc);
}

std::string placement_text(const ordered_json& doc) {
  const ordered_json& p = doc["placement"];
  std::string out = line("%zu VMs on up to %zu hosts of %s usable each\n", doc["vms"].size(), p["hosts_available"].get<size_t>(),
                         format_bytes(p["host_usable_bytes"].get<uint64_t>()).c_str());
  if (!doc.contains("techniques")) out += vmm_text(doc);  // else fit_text said it
  for (const char* which : {"baseline", "sharing_aware"}) {
    const ordered_json& q = p[which];
    uint64_t total = 0, vmm = 0;
    for (const auto& h : q["hosts"]) total += h["host_bytes"].get<uint64_t>(), vmm += h["vmm_bytes"].get<uint64_t>();
    out += line("%-14s %4zu hosts%s, %s in use with dedup and the VMM's %s (%s%s)\n", which, q["hosts_needed"].get<size_t>(),
                q["fits"].get<bool>() ? "" : " (more than available)", format_bytes(total).c_str(), format_bytes(vmm).c_str(),
                q["method"].get<std::string>().c_str(), q["optimal"].get<bool>() ? ", optimal" : "");
  }
  out += line("sharing-aware placement saves %" PRId64 " host(s): %s more VMs per host\n", p["hosts_saved"].get<int64_t>(),
              format_percent(p["capacity_gain"].get<double>()).c_str());
  out += p["exact_model"].get<std::string>() + "\n";
  return out + estimate_text(doc);
}

}  // namespace densevm::planner
