#include "planner/placement.h"

#include <algorithm>
#include <numeric>

#include "planner/exact_placement.h"
#include "planner/fit.h"
#include "planner/format.h"

namespace densevm::planner {
namespace {

// A VM alone on a host, with dedup within itself.
uint64_t own_pages(const Fleet& fleet, size_t v) { return fleet.sets.distinct(v) + (fleet.vms[v].zero_pages > 0); }

// VMs largest first (ties by fleet order, so a plan is repeatable).
std::vector<size_t> largest_first(const Fleet& fleet) {
  std::vector<size_t> order(fleet.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return own_pages(fleet, a) > own_pages(fleet, b); });
  return order;
}

struct Host {
  PageSets::Union pages;
  bool zero = false;
  [[nodiscard]] uint64_t total() const { return pages.pages() + zero; }
  [[nodiscard]] uint64_t total_with(const Fleet& fleet, size_t v) const {
    return pages.pages_with(v) + (zero || fleet.vms[v].zero_pages > 0);
  }
  void add(const Fleet& fleet, size_t v) {
    pages.add(v);
    zero = zero || fleet.vms[v].zero_pages > 0;
  }
};

Placement finish(const Fleet& fleet, std::string method, std::vector<size_t> host_of) {
  Placement p;
  p.method = std::move(method);
  const size_t hosts = host_of.empty() ? 0 : *std::max_element(host_of.begin(), host_of.end()) + 1;
  for (size_t h = 0; h < hosts; ++h) {
    std::vector<size_t> vms;
    for (size_t v = 0; v < host_of.size(); ++v) {
      if (host_of[v] == h) vms.push_back(v);
    }
    p.host_pages.push_back(host_pages_of(fleet, vms));
  }
  p.host_of = std::move(host_of);
  return p;
}

Placement first_fit_decreasing(const Fleet& fleet, uint64_t capacity) {
  std::vector<uint64_t> believed;  // per host: the sum of its VMs' own sizes
  std::vector<size_t> host_of(fleet.size());
  for (const size_t v : largest_first(fleet)) {
    const uint64_t size = own_pages(fleet, v);
    size_t h = 0;
    while (h < believed.size() && believed[h] + size > capacity) ++h;
    if (h == believed.size()) believed.push_back(0);
    believed[h] += size;
    host_of[v] = h;
  }
  return finish(fleet, "first-fit decreasing", std::move(host_of));
}

// Each VM, largest first, onto the open host it adds the fewest pages to.
std::vector<size_t> vm_by_vm(const Fleet& fleet, uint64_t capacity) {
  std::vector<Host> hosts;
  std::vector<size_t> host_of(fleet.size());
  for (const size_t v : largest_first(fleet)) {
    size_t best = hosts.size();
    uint64_t best_added = 0;
    for (size_t h = 0; h < hosts.size(); ++h) {
      const uint64_t with = hosts[h].total_with(fleet, v);
      if (with > capacity) continue;
      const uint64_t added = with - hosts[h].total();
      if (best == hosts.size() || added < best_added) {
        best = h;
        best_added = added;
      }
    }
    if (best == hosts.size()) hosts.push_back({fleet.sets.start()});
    hosts[best].add(fleet, v);
    host_of[v] = best;
  }
  return host_of;
}

// One host at a time: the largest VM left, then while one fits, the VM that adds the fewest
// pages to it (whole families of similar VMs land together even when listed mixed).
std::vector<size_t> host_by_host(const Fleet& fleet, uint64_t capacity) {
  std::vector<size_t> left = largest_first(fleet);
  std::vector<size_t> host_of(fleet.size());
  for (size_t h = 0; !left.empty(); ++h) {
    Host host{fleet.sets.start()};
    host.add(fleet, left.front());
    host_of[left.front()] = h;
    left.erase(left.begin());
    for (;;) {
      size_t best = left.size();
      uint64_t best_added = 0;
      for (size_t i = 0; i < left.size(); ++i) {
        const uint64_t with = host.total_with(fleet, left[i]);
        if (with > capacity) continue;
        if (best == left.size() || with - host.total() < best_added) {
          best = i;
          best_added = with - host.total();
        }
      }
      if (best == left.size()) break;
      host.add(fleet, left[best]);
      host_of[left[best]] = h;
      left.erase(left.begin() + static_cast<std::ptrdiff_t>(best));
    }
  }
  return host_of;
}

// Hosts numbered in order of their first VM, none empty.
std::vector<size_t> compact(std::vector<size_t> host_of) {
  std::vector<size_t> renumber(host_of.size(), host_of.size());
  size_t next = 0;
  for (size_t& h : host_of) {
    if (renumber[h] == host_of.size()) renumber[h] = next++;
    h = renumber[h];
  }
  return host_of;
}

// Empties the emptiest host while every VM on it fits on another (each onto the host it adds
// the fewest pages to). A failed attempt ends the search: the hosts it added to are dropped.
std::vector<size_t> empty_hosts(const Fleet& fleet, uint64_t capacity, std::vector<size_t> host_of) {
  const size_t hosts = *std::max_element(host_of.begin(), host_of.end()) + 1;
  std::vector<std::vector<size_t>> members(hosts);
  for (size_t v = 0; v < host_of.size(); ++v) members[host_of[v]].push_back(v);
  std::vector<Host> on(hosts, Host{fleet.sets.start()});
  for (size_t h = 0; h < hosts; ++h) {
    for (const size_t v : members[h]) on[h].add(fleet, v);
  }
  std::vector<bool> live(hosts, true);
  for (size_t left = hosts; left > 1; --left) {
    size_t victim = hosts;
    for (size_t h = 0; h < hosts; ++h) {
      if (live[h] && (victim == hosts || on[h].total() < on[victim].total())) victim = h;
    }
    std::vector<size_t> moved = host_of;
    for (const size_t v : members[victim]) {
      size_t best = hosts;
      uint64_t best_added = 0;
      for (size_t h = 0; h < hosts; ++h) {
        if (!live[h] || h == victim) continue;
        const uint64_t with = on[h].total_with(fleet, v);
        if (with > capacity) continue;
        if (best == hosts || with - on[h].total() < best_added) {
          best = h;
          best_added = with - on[h].total();
        }
      }
      if (best == hosts) return compact(std::move(host_of));
      on[best].add(fleet, v);
      members[best].push_back(v);
      moved[v] = best;
    }
    live[victim] = false;
    host_of = std::move(moved);
  }
  return compact(std::move(host_of));
}

}  // namespace

uint64_t host_pages_of(const Fleet& fleet, const std::vector<size_t>& vms) {
  Host host{fleet.sets.start()};
  for (const size_t v : vms) host.add(fleet, v);
  return vms.empty() ? 0 : host.total();
}

PlaceResult place(const Fleet& fleet, const PlaceOptions& options) {
  if (options.hosts == 0) throw PlanError("no hosts to place VMs on (--hosts must be at least 1)");
  if (fleet.size() == 0) throw PlanError("no VMs to place");
  PlaceResult r;
  r.hosts_available = options.hosts;
  r.capacity_pages = FitOptions{.host_bytes = options.host_bytes, .headroom_percent = options.headroom_percent}.usable_bytes() / kPageBytes;
  for (size_t v = 0; v < fleet.size(); ++v) {
    if (own_pages(fleet, v) > r.capacity_pages) {
      throw PlanError("VM " + fleet.vms[v].name + " needs " + format_bytes(own_pages(fleet, v) * kPageBytes) +
                      " with dedup, more than a host's " + format_bytes(r.capacity_pages * kPageBytes) + " after " +
                      std::to_string(options.headroom_percent) + "% headroom");
    }
  }
  r.baseline = first_fit_decreasing(fleet, r.capacity_pages);
  // Two greedy orders, each then emptying what hosts it can; the one with fewer hosts (then
  // less memory) wins.
  const std::vector<size_t> a = empty_hosts(fleet, r.capacity_pages, vm_by_vm(fleet, r.capacity_pages));
  const std::vector<size_t> b = empty_hosts(fleet, r.capacity_pages, host_by_host(fleet, r.capacity_pages));
  Placement pa = finish(fleet, "sharing-aware greedy", a);
  Placement pb = finish(fleet, "sharing-aware greedy", b);
  auto total = [](const Placement& p) { return std::accumulate(p.host_pages.begin(), p.host_pages.end(), uint64_t{0}); };
  const bool take_b = pb.hosts() < pa.hosts() || (pb.hosts() == pa.hosts() && total(pb) < total(pa));
  const std::vector<size_t>& greedy = take_b ? b : a;
  r.aware = take_b ? std::move(pb) : std::move(pa);
  const ExactOutcome exact = refine_exact(fleet, r.capacity_pages, greedy, options);
  r.exact_note = exact.note;
  if (exact.host_of) {
    r.aware = finish(fleet, "sharing-aware greedy + exact (CBC)", compact(*exact.host_of));
  }
  r.aware.optimal = exact.optimal;
  return r;
}

}  // namespace densevm::planner
