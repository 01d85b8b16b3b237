#include "cli/marker_samples.h"

#include "cli/host_stats.h"

namespace densevm::cli {

void MarkerSamples::start(const std::vector<std::unique_ptr<Vm>>& vms) {
  seen_.clear();
  for (const auto& vm : vms) seen_.push_back(vm->markers());
}

void MarkerSamples::take(const std::vector<std::unique_ptr<Vm>>& vms) {
  for (size_t k = 0; k < vms.size() && k < seen_.size(); ++k) {
    const uint64_t markers = vms[k]->markers();
    if (markers == seen_[k]) continue;
    seen_[k] = markers;
    MarkerSample s;
    s.vm = vms[k]->id();
    s.marker = markers;
    s.rss_bytes = host_rss_bytes();
    for (const auto& vm : vms) {
      s.resident_pages += vm->stats().resident_pages;
      s.ballooned_pages += vm->balloon().stats().ballooned_pages;
    }
    samples_.push_back(s);
  }
}

nlohmann::ordered_json MarkerSamples::json() const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const MarkerSample& s : samples_) {
    list.push_back({{"vm", s.vm},
                    {"marker", s.marker},
                    {"rss_bytes", s.rss_bytes},
                    {"resident_pages", s.resident_pages},
                    {"ballooned_pages", s.ballooned_pages}});
  }
  return list;
}

}  // namespace densevm::cli
