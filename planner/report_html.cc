#include "planner/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "planner/format.h"
#include "planner/plan_document.h"

namespace densevm::planner {
namespace {

using nlohmann::ordered_json;

constexpr const char* kStyle =
    "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}"
    "h1{font-size:22px}h2{font-size:17px;margin-top:28px}"
    "table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}"
    "td:first-child,th:first-child{text-align:left}.note{color:#555}svg{display:block;margin:8px 0}"
    "svg text{font:11px system-ui,sans-serif;fill:#333}";

// Technique colours (colour-blind safe, after Okabe and Ito).
const char* colour_of(const std::string& technique) {
  if (technique == "none") return "#7f7f7f";
  if (technique == "zero") return "#0072b2";
  if (technique == "dedup") return "#009e73";
  if (technique == "dedup_scoped") return "#cc79a7";
  if (technique == "clones") return "#e69f00";
  return "#d55e00";  // balloon
}

// And dash patterns, so that techniques with the same figures (a mix without zero pages, say)
// still show as two lines.
const char* dashes_of(const std::string& technique) {
  if (technique == "zero") return "9 3";
  if (technique == "dedup_scoped") return "2 3";
  if (technique == "clones") return "12 4 2 4";
  if (technique == "balloon") return "5 5";
  return "none";
}

std::string escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// printf into a string of whatever length it takes (names and point lists can be long).
std::string fmt(const char* format, auto... args) {
  const int n = std::snprintf(nullptr, 0, format, args...);
  std::string out(static_cast<size_t>(std::max(n, 0)) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.pop_back();
  return out;
}

std::string fit_table(const ordered_json& doc) {
  std::string out =
      "<table><tr><th>technique</th><th>host memory</th><th>of it the VMM's</th><th>per VM</th><th>VMs that fit</th><th>ratio</th></tr>";
  for (const auto& [name, t] : doc["techniques"].items()) {
    out += fmt("<tr><td><span style=\"color:%s\">&#9632;</span> %s</td><td>%s</td><td>%s</td><td>%s</td><td>%llu</td><td>%.2fx</td></tr>",
               colour_of(name), name.c_str(), format_bytes(t["host_bytes"].get<uint64_t>()).c_str(),
               format_bytes(t["vmm_bytes"].get<uint64_t>()).c_str(), format_bytes(t["per_vm_bytes"].get<uint64_t>()).c_str(),
               static_cast<unsigned long long>(t["vms_that_fit"].get<uint64_t>()), t["consolidation_ratio"].get<double>());
  }
  return out + "</table>";
}

// Host memory for the first m VMs, per technique, and the host's usable memory.
std::string curves_svg(const ordered_json& doc) {
  constexpr double kW = 760, kH = 380, kLeft = 80, kRight = 150, kTop = 16, kBottom = 40;
  const ordered_json& curves = doc["curves"];
  const size_t n = doc["vms"].size();
  const auto usable = doc["host"]["usable_bytes"].get<uint64_t>();
  uint64_t top = usable;
  for (const auto& [name, c] : curves.items()) top = std::max(top, c.back().get<uint64_t>());
  top = std::max<uint64_t>(top, 1);
  const double pw = kW - kLeft - kRight, ph = kH - kTop - kBottom;
  auto x = [&](size_t m) { return kLeft + (n <= 1 ? pw / 2 : pw * static_cast<double>(m - 1) / static_cast<double>(n - 1)); };
  auto y = [&](uint64_t b) { return kTop + ph * (1.0 - static_cast<double>(b) / static_cast<double>(top)); };
  std::string out = fmt("<svg id=\"curves\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                        "aria-label=\"host memory against VM count\">", kW, kH, kW, kH);
  out += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fafafa\" stroke=\"#ccc\"/>", kLeft, kTop, pw, ph);
  for (int i = 0; i <= 4; ++i) {
    const auto b = static_cast<uint64_t>(static_cast<double>(top) * i / 4);
    out += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", kLeft, kLeft + pw, y(b), y(b));
    out += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", kLeft - 6, y(b) + 4, format_bytes(b).c_str());
  }
  const size_t step = std::max<size_t>(1, (n + 9) / 10);
  for (size_t m = 1; m <= n; m += step) {
    out += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%zu</text>", x(m), kTop + ph + 16, m);
  }
  out += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">VMs on the host</text>", kLeft + pw / 2, kH - 4);
  out += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" stroke-dasharray=\"6 4\"/>", kLeft,
             kLeft + pw, y(usable), y(usable));
  out += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">host memory, usable</text>", kLeft + pw - 4, y(usable) - 4);
  double legend = kTop;
  for (const auto& [name, c] : curves.items()) {
    std::string points;
    for (size_t m = 1; m <= c.size(); ++m) points += fmt("%.1f,%.1f ", x(m), y(c[m - 1].get<uint64_t>()));
    out += fmt("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"%s\" points=\"%s\"/>",
               colour_of(name), dashes_of(name), points.c_str());
    if (n == 1) out += fmt("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>", x(1), y(c[0].get<uint64_t>()), colour_of(name));
    out += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"4\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>",
               kLeft + pw + 8, legend + 14, colour_of(name), kLeft + pw + 26, legend + 18, name.c_str());
    legend += 18;
  }
  return out + "</svg>";
}

// Cell (a, b): pages a and b share, over the smaller one's distinct pages.
std::string sharing_svg(const ordered_json& doc) {
  const ordered_json& s = doc["sharing"];
  const size_t n = s["vms"].get<size_t>();
  if (n == 0) return "";
  const bool labels = n <= 24;
  const double label = labels ? 110 : 10;  // left, for the names
  constexpr double kTop = 10;
  const double cell = std::clamp(480.0 / static_cast<double>(n), 3.0, 40.0);
  const double side = cell * static_cast<double>(n);
  const double height = std::max(side, 100.0) + 2 * kTop;
  std::string out = fmt("<svg id=\"sharing\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                        "aria-label=\"pairwise sharing\">", label + side + 100, height, label + side + 100, height);
  for (size_t a = 0; a < n; ++a) {
    const auto da = doc["vms"][a]["distinct_bytes"].get<uint64_t>();
    if (labels) {
      out += fmt("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", label - 4, kTop + cell * (static_cast<double>(a) + 0.5) + 4,
                 escape(doc["vms"][a]["name"].get<std::string>().substr(0, 16)).c_str());
    }
    for (size_t b = 0; b < n; ++b) {
      const auto db = doc["vms"][b]["distinct_bytes"].get<uint64_t>();
      const auto shared = s["shared_bytes"][a][b].get<uint64_t>();
      const double f = std::min(da, db) == 0 ? 0 : static_cast<double>(shared) / static_cast<double>(std::min(da, db));
      const int shade = static_cast<int>(std::lround(255 - 205 * std::clamp(f, 0.0, 1.0)));
      out += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"rgb(%d,%d,255)\"><title>%s</title></rect>",
                 label + cell * static_cast<double>(b), kTop + cell * static_cast<double>(a), cell, cell, shade, shade,
                 escape(doc["vms"][a]["name"].get<std::string>() + " / " + doc["vms"][b]["name"].get<std::string>() + ": " +
                        format_bytes(shared) + " shared (" + format_percent(f) + ")").c_str());
    }
  }
  const double kx = label + side + 20;
  for (int i = 0; i <= 4; ++i) {
    const int shade = 255 - 205 * i / 4;
    out += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"16\" fill=\"rgb(%d,%d,255)\" stroke=\"#ccc\"/>"
               "<text x=\"%.1f\" y=\"%.1f\">%d%%</text>", kx, kTop + 20.0 * i, shade, shade, kx + 22, kTop + 20.0 * i + 12, 25 * i);
  }
  return out + "</svg>";
}

// One bar per host and placement: its memory with dedup against the usable memory.
std::string placement_svg(const ordered_json& doc) {
  const ordered_json& p = doc["placement"];
  const auto usable = p["host_usable_bytes"].get<uint64_t>();
  const size_t most = std::max(p["baseline"]["hosts_needed"].get<size_t>(), p["sharing_aware"]["hosts_needed"].get<size_t>());
  const double bar = std::clamp(640.0 / static_cast<double>(most), 2.0, 36.0);
  constexpr double kRow = 150, kLeft = 120;
  std::string out = fmt("<svg id=\"placement\" width=\"%.0f\" height=\"%.0f\" role=\"img\" aria-label=\"placement\">",
                        kLeft + bar * static_cast<double>(most) + 40, 2 * kRow + 20);
  int row = 0;
  for (const char* which : {"baseline", "sharing_aware"}) {
    const ordered_json& q = p[which];
    const double base = 20 + kRow * row + kRow - 30;
    out += fmt("<text x=\"4\" y=\"%.1f\">%s</text><text x=\"4\" y=\"%.1f\">%zu hosts</text>", base - (kRow - 40) + 12,
               row == 0 ? "first-fit decreasing" : "sharing-aware", base - (kRow - 40) + 28, q["hosts_needed"].get<size_t>());
    out += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>", kLeft,
               kLeft + bar * static_cast<double>(most), base, base);
    out += fmt("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>", kLeft,
               kLeft + bar * static_cast<double>(most), base - (kRow - 40), base - (kRow - 40));
    size_t h = 0;
    for (const auto& host : q["hosts"]) {
      const double used = static_cast<double>(host["host_bytes"].get<uint64_t>()) / static_cast<double>(std::max<uint64_t>(usable, 1));
      const double height = (kRow - 40) * std::min(used, 1.2);
      out += fmt("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>host %zu: %zu VMs, %s (the VMM's %s)</title></rect>",
                 kLeft + bar * static_cast<double>(h) + 1, base - height, std::max(bar - 2, 1.0), height, row == 0 ? "#7f7f7f" : "#009e73", h,
                 host["vms"].size(), format_bytes(host["host_bytes"].get<uint64_t>()).c_str(),
                 format_bytes(host["vmm_bytes"].get<uint64_t>()).c_str());
      ++h;
    }
    ++row;
  }
  return out + "</svg>";
}

// JSON inside <script>: "</" would end the element early.
std::string script_safe(const std::string& json) {
  std::string out;
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += json[i];
    }
  }
  return out;
}

}  // namespace

std::string report_html(const ordered_json& doc) {
  const ordered_json& host = doc["host"];
  std::string out = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>densevm plan</title><style>";
  out += kStyle;
  out += "</style></head><body>\n";
  out += fmt("<h1>densevm plan: %zu VMs on a host of %s</h1>", doc["vms"].size(),
             format_bytes(host["memory_bytes"].get<uint64_t>()).c_str());
  out += fmt("<p class=\"note\">%s usable after %u%% headroom. Page sets: %s.</p>\n",
             format_bytes(host["usable_bytes"].get<uint64_t>()).c_str(), host["headroom_percent"].get<unsigned>(),
             doc["estimate"]["method"] == "exact" ? "exact" : escape(estimate_text(doc).substr(0, estimate_text(doc).size() - 1)).c_str());
  // Host memory everywhere below includes this: what densevm itself holds per VM.
  out += "<p class=\"note\">" + escape(vmm_text(doc).substr(0, vmm_text(doc).size() - 1)) + ".</p>\n";
  if (doc.contains("techniques")) out += "<h2>Host memory by technique</h2>" + fit_table(doc) + "\n";
  if (doc.contains("references")) out += "<h2>Known files in the VMs' memory</h2><pre>" + escape(references_text(doc)) + "</pre>\n";
  if (doc.contains("curves")) out += "<h2>Host memory against VM count</h2>" + curves_svg(doc) + "\n";
  if (doc.contains("sharing")) {
    out += fmt("<h2>Pairwise sharing</h2><p class=\"note\">Pages two VMs hold alike, as a share of the smaller VM's distinct "
               "pages (first %zu of %zu VMs).</p>", doc["sharing"]["vms"].get<size_t>(), doc["sharing"]["of"].get<size_t>());
    out += sharing_svg(doc) + "\n";
  }
  if (doc.contains("placement")) {
    out += "<h2>Placement</h2><p class=\"note\">" + escape(doc["placement"]["exact_model"].get<std::string>()) +
           ". Dashed: a host's usable memory.</p>" + placement_svg(doc) + "\n";
  }
  out += "<script type=\"application/json\" id=\"densevm-plan\">" + script_safe(doc.dump()) + "</script>\n</body></html>\n";
  return out;
}

}  // namespace densevm::planner
