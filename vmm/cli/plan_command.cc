#include "vmm/cli/plan_command.h"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "planner/fingerprint_file.h"
#include "planner/format.h"
#include "planner/memory_image.h"
#include "planner/plan_document.h"
#include "planner/progress_bar.h"
#include "planner/report_html.h"
#include "vmm/atomic_file.h"
#include "vmm/cli/options.h"

namespace densevm {
namespace {

using namespace planner;

constexpr const char* kUsage =
    "usage: densevm plan fingerprint IMAGE... [-o DIR]\n"
    "       densevm plan fit --host-mem SIZE [--headroom P] [--dedup-scope host|group|vm] [--groups G]\n"
    "                        [--reference LABEL=FILE]... FP... [--json]\n"
    "       densevm plan place --hosts N --host-mem SIZE [--headroom P] [--exact-max-vms N] FP... [--json]\n"
    "       densevm plan report --host-mem SIZE [--hosts N] [--headroom P] [--reference LABEL=FILE]... FP...\n"
    "                           -o REPORT.html\n"
    "  IMAGE: a densevm snapshot (diff chains too), a QEMU dump-guest-memory ELF core, or raw:FILE\n"
    "  fit, place and report also take --exact | --sketch (page sets; default: exact while they fit\n"
    "  in --exact-limit SIZE, 4G) and --check-sample N (VMs that check a sketch, default 8)\n";

uint64_t count(const std::string& flag, const std::string& text, uint64_t min, uint64_t max) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    throw UsageError(flag + " takes a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                     ", not '" + text + "'");
  }
  return v;
}

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

const char* plan_usage() { return kUsage; }

PlanOptions parse_plan_options(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError(std::string("plan needs a subcommand\n") + kUsage);
  PlanOptions o;
  const std::string& sub = args[0];
  if (sub == "fingerprint") o.command = PlanOptions::Command::kFingerprint;
  else if (sub == "fit") o.command = PlanOptions::Command::kFit;
  else if (sub == "place") o.command = PlanOptions::Command::kPlace;
  else if (sub == "report") o.command = PlanOptions::Command::kReport;
  else throw UsageError("plan: unknown subcommand '" + sub + "' (fingerprint, fit, place, report)");
  const bool fp = o.command == PlanOptions::Command::kFingerprint;
  bool host_given = false, hosts_given = false;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (!a.starts_with("-") || a == "-") {
      o.inputs.push_back(a);
    } else if (a == "-o") {
      (fp ? o.out_dir : o.output.emplace()) = value();
    } else if (fp) {
      throw UsageError("plan fingerprint: unexpected option '" + a + "'");
    } else if (a == "--host-mem") {
      o.host_bytes = parse_size(value());
      host_given = true;
    } else if (a == "--headroom") {
      o.headroom_percent = static_cast<unsigned>(count(a, value(), 0, 99));
    } else if (a == "--hosts") {
      o.hosts = count(a, value(), 0, 1'000'000);
      hosts_given = true;
    } else if (a == "--dedup-scope") {
      const std::string& v = value();
      if (v == "host") o.scope = DedupScope::kHost;
      else if (v == "group") o.scope = DedupScope::kGroup;
      else if (v == "vm") o.scope = DedupScope::kVm;
      else throw UsageError("--dedup-scope takes host, group or vm, not '" + v + "'");
    } else if (a == "--groups") {
      o.groups = static_cast<unsigned>(count(a, value(), 1, 4096));
    } else if (a == "--exact" || a == "--sketch") {
      o.fleet.mode = a == "--exact" ? SetMode::kExact : SetMode::kSketch;
    } else if (a == "--exact-limit") {
      o.fleet.exact_limit_bytes = parse_size(value());
    } else if (a == "--check-sample") {
      o.fleet.check_sample = static_cast<unsigned>(count(a, value(), 2, 1024));
    } else if (a == "--exact-max-vms") {
      o.exact_max_vms = count(a, value(), 0, 63);
    } else if (a == "--reference") {
      const std::string& v = value();
      const size_t eq = v.find('=');
      if (eq == 0 || eq == std::string::npos || eq + 1 == v.size()) throw UsageError("--reference takes LABEL=FILE, not '" + v + "'");
      o.references.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--json") {
      o.json = true;
    } else {
      throw UsageError("plan " + sub + ": unknown option '" + a + "'");
    }
  }
  if (o.inputs.empty()) throw UsageError("plan " + sub + (fp ? " needs at least one IMAGE" : " needs at least one fingerprint file"));
  if (fp) return o;
  if (!host_given) throw UsageError("plan " + sub + " needs --host-mem SIZE");
  if (o.host_bytes == 0) throw UsageError("--host-mem must be more than 0");
  if (o.command == PlanOptions::Command::kPlace && !hosts_given) throw UsageError("plan place needs --hosts N");
  if (o.command == PlanOptions::Command::kReport && !o.output) throw UsageError("plan report needs -o REPORT.html");
  if (o.output && std::filesystem::path(*o.output).extension() == ".json") {
    throw UsageError("plan report -o names the HTML page; the JSON goes beside it (REPORT.json)");
  }
  if (o.command != PlanOptions::Command::kReport && o.output) throw UsageError("plan " + sub + ": -o is for plan report");
  if (o.command == PlanOptions::Command::kPlace && !o.references.empty()) throw UsageError("--reference is for plan fit and plan report");
  return o;
}

int plan_command(const PlanOptions& o) {
  if (o.command == PlanOptions::Command::kFingerprint) return fingerprint(o);
  const FitOptions fit{.host_bytes = o.host_bytes, .headroom_percent = o.headroom_percent, .scope = o.scope, .groups = o.groups};
  std::optional<PlaceOptions> place;
  if (o.command == PlanOptions::Command::kPlace || (o.command == PlanOptions::Command::kReport && o.hosts > 0)) {
    place = PlaceOptions{.host_bytes = o.host_bytes, .headroom_percent = o.headroom_percent, .hosts = o.hosts,
                         .exact_max_vms = o.exact_max_vms};
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

}  // namespace densevm
