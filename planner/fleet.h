// Fleet: the VMs a plan is about, read from their fingerprint files. Their page sets are held
// exactly while every VM's hashes fit in `exact_limit_bytes`; beyond that each VM is its KMV
// sketch (only the files' small sections are read, never their pages), and the sketch's
// error is measured against exact sets on a sample of the fleet: `check`, printed with every
// sketched result.
//
//   Fleet fleet = load_fleet({"a.fp", "b.fp"}, {});
//   uint64_t host = fleet.sets.union_pages(std::vector<size_t>{0, 1});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/fingerprint.h"
#include "planner/memory_image.h"
#include "planner/page_sets.h"

namespace densevm::planner {

enum class SetMode : uint8_t { kAuto, kExact, kSketch };

struct FleetOptions {
  uint64_t exact_limit_bytes = uint64_t{4} << 30;  // hashes held in memory for exact sets
  SetMode mode = SetMode::kAuto;
  unsigned check_sample = 8;  // VMs whose exact sets check a sketched fleet's answers
};

// A sketched fleet's answers against exact ones, on a sample of its VMs: the union of the
// first 2, 3, ... of the sample, sketched and exact.
struct SketchCheck {
  uint32_t k = 0;
  double expected_error = 0;   // one relative standard error, 1/sqrt(k-2)
  unsigned vms = 0;            // in the sample
  uint64_t exact_pages = 0;    // the whole sample's union, exact
  uint64_t sketch_pages = 0;   // and sketched
  double max_error = 0;        // the largest |sketched - exact| / exact over the unions
};

struct Fleet {
  std::vector<Fingerprint> vms;  // with page_hashes only when the sets are exact
  PageSets sets;
  std::optional<SketchCheck> check;  // sketched fleets only
  [[nodiscard]] size_t size() const { return vms.size(); }
};

// Exact sets from fingerprints that hold their pages (tests, small plans).
[[nodiscard]] Fleet fleet_of(std::vector<Fingerprint> vms);
// Throws FingerprintError (one line) for a bad file; progress counts files read.
[[nodiscard]] Fleet load_fleet(const std::vector<std::string>& paths, const FleetOptions& options,
                               const Progress& progress = nullptr);
// The check itself: `sample` holds its VMs' pages; `sketches` are theirs.
[[nodiscard]] SketchCheck check_sketches(const std::vector<Fingerprint>& sample);

}  // namespace densevm::planner
