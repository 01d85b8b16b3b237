#include "planner/fit.h"

#include <algorithm>
#include <limits>
#include <string>

#include "planner/format.h"

namespace densevm::planner {
namespace {

// Walks two fingerprints' pages (or samples) by address: visit(own hash, template's hash or
// nullptr where the template has no such page).
template <class Visit>
void align_pages(const Fingerprint& vm, const Fingerprint& tmpl, Visit visit) {
  size_t tr = 0;  // template range
  uint64_t t_index = 0;  // template page index at the start of range tr
  size_t i = 0;
  for (const PageRun& r : vm.ranges) {
    for (uint64_t p = 0; p < r.pages; ++p, ++i) {
      const uint64_t gpa = r.gpa + p * kPageBytes;
      while (tr < tmpl.ranges.size() && tmpl.ranges[tr].gpa + tmpl.ranges[tr].pages * kPageBytes <= gpa) {
        t_index += tmpl.ranges[tr].pages;
        ++tr;
      }
      const bool in_tmpl = tr < tmpl.ranges.size() && tmpl.ranges[tr].gpa <= gpa;
      const uint64_t* t = in_tmpl ? &tmpl.page_hashes[t_index + (gpa - tmpl.ranges[tr].gpa) / kPageBytes] : nullptr;
      visit(vm.page_hashes[i], t);
    }
  }
}

bool any_zero(const Fleet& fleet, size_t m) {
  for (size_t v = 0; v < m; ++v) {
    if (fleet.vms[v].zero_pages > 0) return true;
  }
  return false;
}

uint64_t vms_that_fit(uint64_t usable, uint64_t host_bytes, size_t n) {
  const long double fit = static_cast<long double>(usable) * static_cast<long double>(n) / static_cast<long double>(std::max<uint64_t>(host_bytes, 1));
  return fit >= static_cast<long double>(std::numeric_limits<uint64_t>::max()) ? std::numeric_limits<uint64_t>::max()
                                                                                : static_cast<uint64_t>(fit);
}

}  // namespace

const char* technique_name(Technique t) {
  switch (t) {
    case Technique::kNone:
      return "none";
    case Technique::kZero:
      return "zero";
    case Technique::kDedup:
      return "dedup";
    case Technique::kDedupScoped:
      return "dedup_scoped";
    case Technique::kClones:
      return "clones";
    case Technique::kBalloon:
      return "balloon";
  }
  return "unknown";
}

const char* scope_name(DedupScope s) {
  switch (s) {
    case DedupScope::kHost:
      return "host";
    case DedupScope::kGroup:
      return "group";
    case DedupScope::kVm:
      return "vm";
  }
  return "unknown";
}

uint64_t diverged_pages(const Fingerprint& vm, const Fingerprint& tmpl) {
  const uint64_t zero = zero_page_hash();
  if (!vm.page_hashes.empty() && !tmpl.page_hashes.empty()) {
    uint64_t n = 0;
    align_pages(vm, tmpl, [&](uint64_t own, const uint64_t* t) { n += own != zero && (t == nullptr || *t != own); });
    return n;
  }
  // From the position samples: the same addresses in every VM.
  if (vm.samples.empty()) return vm.nonzero_pages();
  uint64_t diverged = 0;
  size_t j = 0;
  for (const PositionSample& s : vm.samples) {
    while (j < tmpl.samples.size() && tmpl.samples[j].gpa < s.gpa) ++j;
    const bool same = j < tmpl.samples.size() && tmpl.samples[j].gpa == s.gpa && tmpl.samples[j].hash == s.hash;
    diverged += s.hash != zero && !same;
  }
  const auto estimate = static_cast<uint64_t>(static_cast<double>(diverged) * static_cast<double>(vm.ram_pages) /
                                              static_cast<double>(vm.samples.size()) + 0.5);
  return std::min(estimate, vm.nonzero_pages());
}

std::vector<uint64_t> host_pages_curve(const Fleet& fleet, Technique t, const FitOptions& options) {
  const size_t n = fleet.size();
  std::vector<uint64_t> curve;
  curve.reserve(n);
  uint64_t sum = 0;
  switch (t) {
    case Technique::kNone:
    case Technique::kZero:
    case Technique::kBalloon:
      for (const Fingerprint& fp : fleet.vms) {
        const uint64_t ws = fp.working_set_pages ? std::min(*fp.working_set_pages, fp.nonzero_pages()) : fp.nonzero_pages();
        sum += t == Technique::kNone ? fp.ram_pages : t == Technique::kZero ? fp.nonzero_pages() : ws;
        curve.push_back(sum);
      }
      return curve;
    case Technique::kClones:
      for (size_t v = 0; v < n; ++v) {
        sum += v == 0 ? fleet.vms[0].nonzero_pages() : diverged_pages(fleet.vms[v], fleet.vms[0]);
        curve.push_back(sum);
      }
      return curve;
    case Technique::kDedup:
    case Technique::kDedupScoped: {
      const DedupScope scope = t == Technique::kDedup ? DedupScope::kHost : options.scope;
      const size_t groups = scope == DedupScope::kHost ? 1 : scope == DedupScope::kGroup ? std::max(options.groups, 1u) : n;
      std::vector<PageSets::Union> scopes;
      for (size_t g = 0; g < std::min(groups, n); ++g) scopes.push_back(fleet.sets.start());
      for (size_t v = 0; v < n; ++v) {
        PageSets::Union& u = scopes[v % scopes.size()];
        sum -= u.pages();
        u.add(v);
        sum += u.pages();
        curve.push_back(sum + (any_zero(fleet, v + 1) ? 1 : 0));  // the one zero frame
      }
      return curve;
    }
  }
  return curve;
}

std::vector<uint64_t> vmm_bytes_curve(const Fleet& fleet, Technique t, const FitOptions& options) {
  std::vector<uint64_t> curve;
  curve.reserve(fleet.size());
  uint64_t sum = 0;
  for (size_t v = 0; v < fleet.size(); ++v) {
    sum += options.vmm.vm_bytes(fleet.vms[v], t == Technique::kClones && v > 0);
    curve.push_back(sum);
  }
  return curve;
}

FitResult fit(const Fleet& fleet, const FitOptions& options) {
  if (fleet.size() == 0) throw PlanError("no VMs to plan for");
  FitResult r;
  r.usable_bytes = options.usable_bytes();
  for (const Fingerprint& fp : fleet.vms) r.working_sets_known += fp.working_set_pages.has_value();
  for (const Technique t : kTechniques) {
    TechniqueFit f;
    f.technique = t;
    f.guest_bytes = host_pages_curve(fleet, t, options).back() * kPageBytes;
    f.vmm_bytes = vmm_bytes_curve(fleet, t, options).back();
    f.host_bytes = f.guest_bytes + f.vmm_bytes;
    f.vms_that_fit = vms_that_fit(r.usable_bytes, f.host_bytes, fleet.size());
    r.techniques.push_back(f);
  }
  const uint64_t none = r.of(Technique::kNone).host_bytes;
  const TechniqueFit* best = &r.techniques.front();
  for (TechniqueFit& f : r.techniques) {
    f.consolidation_ratio = static_cast<double>(none) / static_cast<double>(std::max<uint64_t>(f.host_bytes, 1));
    if (f.host_bytes < best->host_bytes) best = &f;
  }
  if (best->vms_that_fit == 0) {
    throw PlanError("host memory " + format_bytes(options.host_bytes) + " (" + format_bytes(r.usable_bytes) +
                    " after " + std::to_string(options.headroom_percent) + "% headroom) is too small for one VM of this mix (" +
                    format_bytes(best->host_bytes / fleet.size()) + " each with " + technique_name(best->technique) +
                    (best->vmm_bytes > 0 ? ", " + format_bytes(best->vmm_bytes / fleet.size()) + " of it the VMM's own" : std::string()) + ")");
  }
  return r;
}

}  // namespace densevm::planner
