#include "planner/fleet.h"

#include <cmath>

#include "planner/fingerprint_file.h"
#include "planner/internal/hash_set64.h"

namespace densevm::planner {

Fleet fleet_of(std::vector<Fingerprint> vms) {
  Fleet f;
  std::vector<std::vector<uint64_t>> sets;
  for (const Fingerprint& fp : vms) sets.push_back(distinct_nonzero(fp));
  f.vms = std::move(vms);
  f.sets = PageSets::exact(std::move(sets));
  return f;
}

SketchCheck check_sketches(const std::vector<Fingerprint>& sample) {
  SketchCheck c;
  c.vms = static_cast<unsigned>(sample.size());
  internal::HashSet64 exact;
  std::optional<KmvSketch> sketch;
  uint64_t largest = 0, sum = 0;
  for (const Fingerprint& fp : sample) {
    for (const uint64_t h : distinct_nonzero(fp)) exact.insert(h);
    if (sketch) {
      sketch->merge(fp.sketch);
    } else {
      sketch = fp.sketch;
    }
    largest = std::max(largest, fp.distinct_pages);
    sum += fp.distinct_pages;
    // Bounded as PageSets bounds a sketched union.
    const double estimate = std::clamp(std::round(sketch->estimate()), static_cast<double>(largest), static_cast<double>(sum));
    c.exact_pages = exact.size();
    c.sketch_pages = static_cast<uint64_t>(estimate);
    if (c.exact_pages > 0) {
      c.max_error = std::max(c.max_error, std::abs(estimate - static_cast<double>(c.exact_pages)) / static_cast<double>(c.exact_pages));
    }
  }
  if (sketch) {
    c.k = sketch->k();
    c.expected_error = KmvSketch::expected_error(c.k);
  }
  return c;
}

Fleet load_fleet(const std::vector<std::string>& paths, const FleetOptions& options, const Progress& progress) {
  std::vector<Fingerprint> light;
  uint64_t hash_bytes = 0;
  for (size_t i = 0; i < paths.size(); ++i) {
    light.push_back(read_fingerprint(paths[i], /*with_pages=*/false));
    hash_bytes += (light.back().ram_pages + light.back().distinct_pages) * sizeof(uint64_t);
    if (progress) progress(i + 1, paths.size());
  }
  const bool exact = options.mode == SetMode::kExact ||
                     (options.mode == SetMode::kAuto && hash_bytes <= options.exact_limit_bytes);
  if (exact) {
    std::vector<Fingerprint> full;
    for (const std::string& p : paths) full.push_back(read_fingerprint(p, /*with_pages=*/true));
    return fleet_of(std::move(full));
  }
  Fleet f;
  std::vector<KmvSketch> sketches;
  std::vector<uint64_t> distinct;
  for (const Fingerprint& fp : light) {
    sketches.push_back(fp.sketch);
    distinct.push_back(fp.distinct_pages);
  }
  f.sets = PageSets::sketched(std::move(sketches), std::move(distinct));
  // The sample: evenly spread over the fleet, in fleet order.
  const size_t n = paths.size();
  const size_t s = std::min<size_t>(std::max(options.check_sample, 2u), n);
  std::vector<Fingerprint> sample;
  for (size_t i = 0; i < s; ++i) sample.push_back(read_fingerprint(paths[i * n / s], /*with_pages=*/true));
  f.check = check_sketches(sample);
  f.vms = std::move(light);
  return f;
}

}  // namespace densevm::planner
