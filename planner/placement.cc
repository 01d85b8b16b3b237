#include "planner/placement.h"

#include <algorithm>
#include <numeric>

#include "planner/exact_placement.h"
#include "planner/fit.h"
#include "planner/format.h"

namespace densevm::planner {
namespace {

// The fleet and each VM's VMM overhead in pages (PlaceOptions::vmm), which a host holds per
// VM on top of the pages its VMs share.
struct Costs {
  const Fleet& fleet;
  std::vector<uint64_t> vmm;
};

// A VM alone on a host, with dedup within itself.
uint64_t own_pages(const Costs& c, size_t v) { return c.fleet.sets.distinct(v) + (c.fleet.vms[v].zero_pages > 0) + c.vmm[v]; }

// VMs largest first (ties by fleet order, so a plan is repeatable).
std::vector<size_t> largest_first(const Costs& c) {
  std::vector<size_t> order(c.fleet.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return own_pages(c, a) > own_pages(c, b); });
  return order;
}

struct Host {
  PageSets::Union pages;
  bool zero = false;
  uint64_t vmm = 0;  // its VMs' VMM overhead
  [[nodiscard]] uint64_t total() const { return pages.pages() + zero + vmm; }
  [[nodiscard]] uint64_t total_with(const Costs& c, size_t v) const {
    return pages.pages_with(v) + (zero || c.fleet.vms[v].zero_pages > 0) + vmm + c.vmm[v];
  }
  void add(const Costs& c, size_t v) {
    pages.add(v);
    zero = zero || c.fleet.vms[v].zero_pages > 0;
    vmm += c.vmm[v];
  }
};

Placement finish(const Costs& c, std::string method, std::vector<size_t> host_of) {
  Placement p;
  p.method = std::move(method);
  const size_t hosts = host_of.empty() ? 0 : *std::max_element(host_of.begin(), host_of.end()) + 1;
  for (size_t h = 0; h < hosts; ++h) {
    std::vector<size_t> vms;
    for (size_t v = 0; v < host_of.size(); ++v) {
      if (host_of[v] == h) vms.push_back(v);
    }
    uint64_t vmm = 0;
    for (const size_t v : vms) vmm += c.vmm[v];
    p.host_pages.push_back(host_pages_of(c.fleet, vms) + vmm);
    p.host_vmm_pages.push_back(vmm);
  }
  p.host_of = std::move(host_of);
  return p;
}

Placement first_fit_decreasing(const Costs& c, uint64_t capacity) {
  std::vector<uint64_t> believed;  // per host: the sum of its VMs' own sizes
  std::vector<size_t> host_of(c.fleet.size());
  for (const size_t v : largest_first(c)) {
    const uint64_t size = own_pages(c, v);
    size_t h = 0;
    while (h < believed.size() && believed[h] + size > capacity) ++h;
    if (h == believed.size()) believed.push_back(0);
    believed[h] += size;
    host_of[v] = h;
  }
  return finish(c, "first-fit decreasing", std::move(host_of));
}

// Each VM, largest first, onto the open host it adds the fewest pages to.
std::vector<size_t> vm_by_vm(const Costs& c, uint64_t capacity) {
  std::vector<Host> hosts;
  std::vector<size_t> host_of(c.fleet.size());
  for (const size_t v : largest_first(c)) {
    size_t best = hosts.size();
    uint64_t best_added = 0;
    for (size_t h = 0; h < hosts.size(); ++h) {
      const uint64_t with = hosts[h].total_with(c, v);
      if (with > capacity) continue;
      const uint64_t added = with - hosts[h].total();
      if (best == hosts.size() || added < best_added) {
        best = h;
        best_added = added;
      }
    }
    if (best == hosts.size()) hosts.push_back({c.fleet.sets.start()});
    hosts[best].add(c, v);
    host_of[v] = best;
  }
  return host_of;
}

// One host at a time: the largest VM left, then while one fits, the VM that adds the fewest
// pages to it (whole families of similar VMs land together even when listed mixed).
std::vector<size_t> host_by_host(const Costs& c, uint64_t capacity) {
  std::vector<size_t> left = largest_first(c);
  std::vector<size_t> host_of(c.fleet.size());
  for (size_t h = 0; !left.empty(); ++h) {
    Host host{c.fleet.sets.start()};
    host.add(c, left.front());
    host_of[left.front()] = h;
    left.erase(left.begin());
    for (;;) {
      size_t best = left.size();
      uint64_t best_added = 0;
      for (size_t i = 0; i < left.size(); ++i) {
        const uint64_t with = host.total_with(c, left[i]);
        if (with > capacity) continue;
        if (best == left.size() || with - host.total() < best_added) {
          best = i;
          best_added = with - host.total();
        }
      }
      if (best == left.size()) break;
      host.add(c, left[best]);
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
std::vector<size_t> empty_hosts(const Costs& c, uint64_t capacity, std::vector<size_t> host_of) {
  const size_t hosts = *std::max_element(host_of.begin(), host_of.end()) + 1;
  std::vector<std::vector<size_t>> members(hosts);
  for (size_t v = 0; v < host_of.size(); ++v) members[host_of[v]].push_back(v);
  std::vector<Host> on(hosts, Host{c.fleet.sets.start()});
  for (size_t h = 0; h < hosts; ++h) {
    for (const size_t v : members[h]) on[h].add(c, v);
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
        const uint64_t with = on[h].total_with(c, v);
        if (with > capacity) continue;
        if (best == hosts || with - on[h].total() < best_added) {
          best = h;
          best_added = with - on[h].total();
        }
      }
      if (best == hosts) return compact(std::move(host_of));
      on[best].add(c, v);
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
  const Costs c{fleet, std::vector<uint64_t>(fleet.size(), 0)};
  Host host{fleet.sets.start()};
  for (const size_t v : vms) host.add(c, v);
  return vms.empty() ? 0 : host.total();
}

PlaceResult place(const Fleet& fleet, const PlaceOptions& options) {
  if (options.hosts == 0) throw PlanError("no hosts to place VMs on (--hosts must be at least 1)");
  if (fleet.size() == 0) throw PlanError("no VMs to place");
  PlaceResult r;
  r.hosts_available = options.hosts;
  r.capacity_pages = FitOptions{.host_bytes = options.host_bytes, .headroom_percent = options.headroom_percent}.usable_bytes() / kPageBytes;
  Costs c{fleet, std::vector<uint64_t>(fleet.size(), 0)};
  for (size_t v = 0; v < fleet.size(); ++v) c.vmm[v] = (options.vmm.vm_bytes(fleet.vms[v], false) + kPageBytes - 1) / kPageBytes;
  for (size_t v = 0; v < fleet.size(); ++v) {
    if (own_pages(c, v) > r.capacity_pages) {
      throw PlanError("VM " + fleet.vms[v].name + " needs " + format_bytes(own_pages(c, v) * kPageBytes) +
                      " with dedup" + (c.vmm[v] > 0 ? " and the VMM's " + format_bytes(c.vmm[v] * kPageBytes) : std::string()) +
                      ", more than a host's " + format_bytes(r.capacity_pages * kPageBytes) + " after " +
                      std::to_string(options.headroom_percent) + "% headroom");
    }
  }
  r.baseline = first_fit_decreasing(c, r.capacity_pages);
  // Two greedy orders, each then emptying what hosts it can; the one with fewer hosts (then
  // less memory) wins.
  const std::vector<size_t> a = empty_hosts(c, r.capacity_pages, vm_by_vm(c, r.capacity_pages));
  const std::vector<size_t> b = empty_hosts(c, r.capacity_pages, host_by_host(c, r.capacity_pages));
  Placement pa = finish(c, "sharing-aware greedy", a);
  Placement pb = finish(c, "sharing-aware greedy", b);
  auto total = [](const Placement& p) { return std::accumulate(p.host_pages.begin(), p.host_pages.end(), uint64_t{0}); };
  const bool take_b = pb.hosts() < pa.hosts() || (pb.hosts() == pa.hosts() && total(pb) < total(pa));
  const std::vector<size_t>& greedy = take_b ? b : a;
  r.aware = take_b ? std::move(pb) : std::move(pa);
  const ExactOutcome exact = refine_exact(fleet, c.vmm, r.capacity_pages, greedy, options);
  r.exact_note = exact.note;
  if (exact.host_of) {
    r.aware = finish(c, "sharing-aware greedy + exact (CBC)", compact(*exact.host_of));
  }
  r.aware.optimal = exact.optimal;
  return r;
}

}  // namespace densevm::planner
