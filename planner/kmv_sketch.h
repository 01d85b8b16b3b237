// KmvSketch: the k smallest distinct values of a set of 64-bit hashes (Bar-Yossef et al.,
// "Counting distinct elements in a data stream", RANDOM 2002; Beyer et al., SIGMOD 2007):
// a uniform sample of the set's hash space, so the set's size is (k-1) / (k-th value / 2^64)
// with a relative standard error of 1/sqrt(k-2), and the sketch of a union is the k smallest
// of the members' sketches. A set with fewer than k values is held whole: exact.
//
// The planner sketches each VM's distinct non-zero page hashes (XXH3-64, already uniform) when
// a fleet's exact page sets would not fit in memory. KMV rather than HyperLogLog because the
// planner needs more than union sizes: pairwise sharing (the heat map) and any subset's union
// (a host in placement), which KMV answers from the same sample; it is exact for small VMs.
//
//   KmvSketch a = KmvSketch::of(sorted_distinct_hashes);   // ascending, no repeats
//   double both = KmvSketch::union_estimate(a, b);
//   a.merge(b);  double again = a.estimate();
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace densevm::planner {

class KmvSketch {
 public:
  static constexpr uint32_t kDefaultK = 8192;  // 64 KiB a VM, about 1.1% relative error

  explicit KmvSketch(uint32_t k = kDefaultK) : k_(k) {}
  // The sketch of a set given as its values in ascending order without repeats.
  [[nodiscard]] static KmvSketch of(std::span<const uint64_t> sorted_distinct, uint32_t k = kDefaultK);
  // A sketch read back from a file: at most k values, strictly ascending (else nullopt-like:
  // throws std::invalid_argument).
  [[nodiscard]] static KmvSketch from_values(std::vector<uint64_t> values, uint32_t k);

  // Becomes the sketch of the union; k becomes the smaller of the two.
  void merge(const KmvSketch& other);
  // Distinct values of the set: exact below k values, else the KMV estimate.
  [[nodiscard]] double estimate() const;
  // The estimate for a union of two, without building its sketch.
  [[nodiscard]] static double union_estimate(const KmvSketch& a, const KmvSketch& b);

  [[nodiscard]] bool exact() const { return values_.size() < k_; }
  [[nodiscard]] uint32_t k() const { return k_; }
  [[nodiscard]] std::span<const uint64_t> values() const { return values_; }
  // One relative standard error of an estimate from a full sketch.
  [[nodiscard]] static double expected_error(uint32_t k) { return 1.0 / std::sqrt(static_cast<double>(k) - 2.0); }

 private:
  // (k-1) / (kth / 2^64): the estimate from the k-th smallest value.
  [[nodiscard]] static double from_kth(uint32_t k, uint64_t kth);

  uint32_t k_;
  std::vector<uint64_t> values_;  // ascending, at most k_
};

}  // namespace densevm::planner
