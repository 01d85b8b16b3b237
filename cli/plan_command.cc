// `densevm plan`: the command-line glue over planner/ — fingerprint images, then fit, place
// and report from the fingerprints. Bad input throws std::runtime_error (one line) before
// anything is left under an output name.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/commands.h"
#include "cli/flags.h"
#include "core/atomic_file.h"
#include "planner/fingerprint_file.h"
#include "planner/format.h"
#include "planner/memory_image.h"
#include "planner/plan_document.h"
#include "planner/progress_bar.h"
#include "planner/report_html.h"

namespace densevm::cli {
namespace {

using namespace planner;

int fingerprint(const PlanOptions& o) {
  // Every output name first: two images may not write one file.
  std::set<std::string> names;
  for (const std::string& spec : o.inputs) {
    const std::string path = spec.starts_with("raw:") ? spec.substr(4) : spec;
    const std::string name = std::filesystem::path(path).filename().string() + ".fp";
    if (!names.insert(name).second) throw UsageError("two images would both write " + name + " in " + o.out_dir);
  }
  for (const std::string& spec : o.inputs) {
    const auto start = std::chrono::steady_clock::now();
    Fingerprint fp;
    {
      ProgressBar bar(spec);
      fp = fingerprint_image(spec, [&bar](uint64_t done, uint64_t total) { bar.update(done, total); });
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string out = (std::filesystem::path(o.out_dir) / (fp.name + ".fp")).string();
    write_fingerprint(fp, out);
    std::printf("%s: %s %s, %s zero, %s distinct non-zero; %s in %.2f s (%.0f MB/s) -> %s\n", spec.c_str(),
                image_kind_name(fp.kind), format_bytes(fp.ram_pages * kPageBytes).c_str(),
                format_percent(static_cast<double>(fp.zero_pages) / static_cast<double>(fp.ram_pages)).c_str(),
                format_bytes(fp.distinct_pages * kPageBytes).c_str(), format_bytes(fp.image_bytes).c_str(), seconds,
                seconds > 0 ? static_cast<double>(fp.image_bytes) / seconds / 1e6 : 0.0, out.c_str());
  }
  return 0;
}

Fleet load(const PlanOptions& o) {
  ProgressBar bar("fingerprints", ProgressBar::Unit::kItems);
  return load_fleet(o.inputs, o.fleet, [&bar](uint64_t done, uint64_t total) { bar.update(done, total); });
}

}  // namespace

int plan_command(const PlanOptions& o) {
  if (o.command == PlanOptions::Command::kFingerprint) return fingerprint(o);
  const VmmOverhead vmm = o.vmm.kind == VmmOverhead::Kind::kModel ? VmmOverhead::model(o.guest_code) : o.vmm;
  const FitOptions fit{.host_bytes = o.host_bytes, .headroom_percent = o.headroom_percent, .scope = o.scope, .groups = o.groups,
                       .vmm = vmm};
  std::optional<PlaceOptions> place;
  if (o.command == PlanOptions::Command::kPlace || (o.command == PlanOptions::Command::kReport && o.hosts > 0)) {
    place = PlaceOptions{.host_bytes = o.host_bytes, .headroom_percent = o.headroom_percent, .hosts = o.hosts,
                         .exact_max_vms = o.exact_max_vms, .vmm = vmm};
  }
  if (o.command == PlanOptions::Command::kPlace && o.hosts == 0) {
    throw PlanError("no hosts to place VMs on (--hosts must be at least 1)");
  }
  std::vector<Reference> references;
  for (const auto& [label, path] : o.references) references.push_back(read_reference(label, path));
  const Fleet fleet = load(o);
  switch (o.command) {
    case PlanOptions::Command::kFit: {
      const auto doc = plan_document(fleet, fit, std::nullopt, {.fit = true, .references = &references});
      std::fputs(o.json ? (doc.dump(2) + "\n").c_str() : fit_text(doc).c_str(), stdout);
      return 0;
    }
    case PlanOptions::Command::kPlace: {
      const auto doc = plan_document(fleet, fit, place, {});
      std::fputs(o.json ? (doc.dump(2) + "\n").c_str() : placement_text(doc).c_str(), stdout);
      return 0;
    }
    default:
      break;
  }
  const auto doc = plan_document(fleet, fit, place, {.fit = true, .curves = true, .sharing = true, .references = &references});
  // Both files whole or neither: written to temp names, renamed only once both are written.
  const std::string html_path = *o.output;
  const std::string json_path = std::filesystem::path(html_path).replace_extension(".json").string();
  AtomicFile html(html_path, 0644);
  AtomicFile json(json_path, 0644);
  const std::string page = report_html(doc);
  const std::string text = doc.dump(2) + "\n";
  html.write({reinterpret_cast<const uint8_t*>(page.data()), page.size()});
  json.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  json.commit();
  html.commit();
  std::fputs(fit_text(doc).c_str(), stdout);
  if (place) std::fputs(placement_text(doc).c_str(), stdout);
  std::printf("report: %s (data: %s)\n", html_path.c_str(), json_path.c_str());
  return 0;
}

}  // namespace densevm::cli
