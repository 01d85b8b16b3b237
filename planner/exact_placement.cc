#include "planner/exact_placement.h"

#include <coin/Cbc_C_Interface.h>

#include <algorithm>
#include <map>
#include <memory>
#include <queue>

namespace densevm::planner {
namespace {

constexpr size_t kMaxLinkRows = 200000;

// Pages per class: the VMs holding a page, as a bit mask, to how many pages have that mask.
std::map<uint64_t, uint64_t> page_classes(const PageSets& sets) {
  using Cursor = std::pair<uint64_t, size_t>;  // (page, vm)
  std::priority_queue<Cursor, std::vector<Cursor>, std::greater<>> heap;
  std::vector<size_t> at(sets.size(), 0);
  for (size_t v = 0; v < sets.size(); ++v) {
    if (!sets.pages(v).empty()) heap.push({sets.pages(v)[0], v});
  }
  std::map<uint64_t, uint64_t> classes;
  while (!heap.empty()) {
    const uint64_t page = heap.top().first;
    uint64_t mask = 0;
    while (!heap.empty() && heap.top().first == page) {
      const size_t v = heap.top().second;
      heap.pop();
      mask |= uint64_t{1} << v;
      if (++at[v] < sets.pages(v).size()) heap.push({sets.pages(v)[at[v]], v});
    }
    ++classes[mask];
  }
  return classes;
}

}  // namespace

ExactOutcome refine_exact(const Fleet& fleet, const std::vector<uint64_t>& vmm_pages, uint64_t capacity_pages,
                          const std::vector<size_t>& greedy, const PlaceOptions& options) {
  ExactOutcome out;
  const size_t greedy_hosts = *std::max_element(greedy.begin(), greedy.end()) + 1;
  const size_t n = fleet.size();
  if (!fleet.sets.is_exact()) {
    out.note = "exact model not run: the page sets are sketched";
    return out;
  }
  if (n > options.exact_max_vms || n > 63) {
    out.note = "exact model not run: " + std::to_string(n) + " VMs, more than " + std::to_string(options.exact_max_vms);
    return out;
  }
  bool zero = false;
  for (const Fingerprint& fp : fleet.vms) zero = zero || fp.zero_pages > 0;
  // Every host holds at least its share of the fleet's distinct pages.
  std::vector<size_t> all(n);
  for (size_t v = 0; v < n; ++v) all[v] = v;
  uint64_t total = fleet.sets.union_pages(all);
  for (const uint64_t p : vmm_pages) total += p;  // each VM's VMM overhead is on its host too
  const uint64_t room = capacity_pages - (zero ? 1 : 0);
  const size_t lower = std::max<size_t>(1, static_cast<size_t>((total + room - 1) / room));
  if (greedy_hosts <= lower) {
    out.optimal = true;
    out.note = "greedy placement proven optimal: it meets the lower bound of " + std::to_string(lower) + " hosts";
    return out;
  }
  const std::map<uint64_t, uint64_t> classes = page_classes(fleet.sets);
  std::vector<uint64_t> own(n, 0);
  std::vector<std::pair<uint64_t, uint64_t>> shared;  // (mask, pages) held by two or more VMs
  for (size_t v = 0; v < n; ++v) own[v] = vmm_pages[v];
  for (const auto& [mask, pages] : classes) {
    if ((mask & (mask - 1)) == 0) {
      own[static_cast<size_t>(__builtin_ctzll(mask))] += pages;
    } else {
      shared.emplace_back(mask, pages);
    }
  }
  size_t link_rows = 0;
  for (const auto& [mask, pages] : shared) link_rows += static_cast<size_t>(__builtin_popcountll(mask)) * greedy_hosts;
  if (link_rows > kMaxLinkRows) {
    out.note = "exact model not run: " + std::to_string(shared.size()) + " sharing classes make it too large";
    return out;
  }

  const size_t hosts = greedy_hosts;
  std::unique_ptr<Cbc_Model, void (*)(Cbc_Model*)> model(Cbc_newModel(), Cbc_deleteModel);
  Cbc_Model* m = model.get();
  Cbc_setLogLevel(m, 0);
  auto x = [&](size_t v, size_t h) { return static_cast<int>(v * hosts + h); };
  auto y = [&](size_t h) { return static_cast<int>(n * hosts + h); };
  auto z = [&](size_t c, size_t h) { return static_cast<int>(n * hosts + hosts + c * hosts + h); };
  for (size_t v = 0; v < n; ++v) {
    for (size_t h = 0; h < hosts; ++h) Cbc_addCol(m, "", 0, h <= v ? 1 : 0, 0, 1, 0, nullptr, nullptr);
  }
  for (size_t h = 0; h < hosts; ++h) Cbc_addCol(m, "", 0, 1, 1, 1, 0, nullptr, nullptr);
  for (size_t c = 0; c < shared.size(); ++c) {
    for (size_t h = 0; h < hosts; ++h) Cbc_addCol(m, "", 0, 1, 0, 0, 0, nullptr, nullptr);
  }
  std::vector<int> cols;
  std::vector<double> coefs;
  auto row = [&](char sense, double rhs) {
    Cbc_addRow(m, "", static_cast<int>(cols.size()), cols.data(), coefs.data(), sense, rhs);
    cols.clear();
    coefs.clear();
  };
  for (size_t v = 0; v < n; ++v) {  // each VM on one host
    for (size_t h = 0; h < hosts; ++h) cols.push_back(x(v, h)), coefs.push_back(1);
    row('E', 1);
  }
  for (size_t c = 0; c < shared.size(); ++c) {  // a class is on every host one of its VMs is on
    for (size_t v = 0; v < n; ++v) {
      if ((shared[c].first >> v & 1) == 0) continue;
      for (size_t h = 0; h < hosts; ++h) {
        cols = {z(c, h), x(v, h)};
        coefs = {1, -1};
        row('G', 0);
      }
    }
  }
  for (size_t h = 0; h < hosts; ++h) {  // capacity
    for (size_t v = 0; v < n; ++v) cols.push_back(x(v, h)), coefs.push_back(static_cast<double>(own[v]));
    for (size_t c = 0; c < shared.size(); ++c) cols.push_back(z(c, h)), coefs.push_back(static_cast<double>(shared[c].second));
    cols.push_back(y(h)), coefs.push_back(-static_cast<double>(room));
    row('L', 0);
  }
  for (size_t v = 0; v < n; ++v) {  // only on a host in use
    for (size_t h = 0; h < hosts; ++h) {
      cols = {y(h), x(v, h)};
      coefs = {1, -1};
      row('G', 0);
    }
  }
  for (size_t h = 0; h + 1 < hosts; ++h) {  // hosts used in order
    cols = {y(h), y(h + 1)};
    coefs = {1, -1};
    row('G', 0);
  }
  // The greedy placement, hosts renumbered so VM v is on a host <= v, as a first solution.
  std::vector<int> start_cols;
  std::vector<double> start_values;
  {
    std::vector<size_t> renumber(hosts, hosts);
    size_t next = 0;
    for (size_t v = 0; v < n; ++v) {
      if (renumber[greedy[v]] == hosts) renumber[greedy[v]] = next++;
      for (size_t h = 0; h < hosts; ++h) {
        start_cols.push_back(x(v, h));
        start_values.push_back(renumber[greedy[v]] == h ? 1 : 0);
      }
    }
    for (size_t h = 0; h < hosts; ++h) start_cols.push_back(y(h)), start_values.push_back(1);
    for (size_t c = 0; c < shared.size(); ++c) {
      for (size_t h = 0; h < hosts; ++h) {
        bool present = false;
        for (size_t v = 0; v < n; ++v) present = present || ((shared[c].first >> v & 1) != 0 && renumber[greedy[v]] == h);
        start_cols.push_back(z(c, h));
        start_values.push_back(present ? 1 : 0);
      }
    }
  }
  Cbc_setMIPStartI(m, static_cast<int>(start_cols.size()), start_cols.data(), start_values.data());
  Cbc_setObjSense(m, 1);
  Cbc_setMaximumNodes(m, options.exact_node_limit);
  Cbc_setParameter(m, "threads", "1");
  (void)Cbc_solve(m);
  const double* best = Cbc_bestSolution(m);
  if (best == nullptr) {
    out.note = "exact model (CBC) found no placement within " + std::to_string(options.exact_node_limit) + " nodes";
    return out;
  }
  std::vector<size_t> host_of(n, 0);
  std::vector<bool> in_use(hosts, false);
  for (size_t v = 0; v < n; ++v) {
    for (size_t h = 0; h < hosts; ++h) {
      if (best[x(v, h)] > 0.5) host_of[v] = h;
    }
    in_use[host_of[v]] = true;
  }
  const auto used = static_cast<size_t>(std::count(in_use.begin(), in_use.end(), true));
  out.optimal = Cbc_isProvenOptimal(m) != 0;
  if (used < greedy_hosts) out.host_of = std::move(host_of);
  out.note = std::string("exact model (CBC, ") + std::to_string(shared.size()) + " sharing classes): " +
             std::to_string(std::min(used, greedy_hosts)) + " hosts" + (out.optimal ? ", proven optimal" : ", not proven optimal");
  return out;
}

}  // namespace densevm::planner
