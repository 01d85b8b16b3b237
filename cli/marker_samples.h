// MarkerSamples: what the host holds at moments the guests choose. At every guest marker (a
// write to the marker port: the built-in guest's SYS_MARK, or in Linux a byte to port 0xf6
// through /dev/port) the run loop notes the process's RSS and what the VMs hold, because at
// the end of a run the VMs may have given everything back (a stopped VM leaves a host budget
// with its memory). In `--stats` as `host.marker_samples`.
//
//   MarkerSamples samples;
//   samples.start(vms);   // before running them: markers written so far are not new
//   samples.take(vms);    // between epochs: one sample per VM whose marker count grew
//   doc["host"]["marker_samples"] = samples.json();
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "vmm/vm.h"

namespace densevm::cli {

struct MarkerSample {
  int vm = 0;                    // the VM that wrote the marker
  uint64_t marker = 0;           // its marker count (1 for its first marker)
  uint64_t rss_bytes = 0;        // VmRSS of the process then
  uint64_t resident_pages = 0;   // all running VMs' pages backed by a host frame
  uint64_t ballooned_pages = 0;  // all running VMs' pages in their balloons
};

class MarkerSamples {
 public:
  void start(const std::vector<std::unique_ptr<Vm>>& vms);
  void take(const std::vector<std::unique_ptr<Vm>>& vms);
  [[nodiscard]] const std::vector<MarkerSample>& samples() const { return samples_; }
  [[nodiscard]] nlohmann::ordered_json json() const;

 private:
  std::vector<uint64_t> seen_;  // markers() of each VM of the current run, as last sampled
  std::vector<MarkerSample> samples_;
};

}  // namespace densevm::cli
