#include "planner/kmv_sketch.h"

#include <algorithm>
#include <stdexcept>

namespace densevm::planner {

KmvSketch KmvSketch::of(std::span<const uint64_t> sorted_distinct, uint32_t k) {
  KmvSketch s(k);
  const size_t n = std::min<size_t>(sorted_distinct.size(), k);
  s.values_.assign(sorted_distinct.begin(), sorted_distinct.begin() + static_cast<std::ptrdiff_t>(n));
  return s;
}

KmvSketch KmvSketch::from_values(std::vector<uint64_t> values, uint32_t k) {
  if (k < 3) throw std::invalid_argument("sketch size below 3");
  if (values.size() > k) throw std::invalid_argument("sketch holds more values than its size");
  for (size_t i = 1; i < values.size(); ++i) {
    if (values[i] <= values[i - 1]) throw std::invalid_argument("sketch values are not ascending");
  }
  KmvSketch s(k);
  s.values_ = std::move(values);
  return s;
}

double KmvSketch::from_kth(uint32_t k, uint64_t kth) {
  // The k-th smallest of n uniform values in [0, 2^64) sits near k/n of the range.
  const double fraction = (static_cast<double>(kth) + 1.0) / 18446744073709551616.0;
  return (static_cast<double>(k) - 1.0) / fraction;
}

double KmvSketch::estimate() const {
  if (exact()) return static_cast<double>(values_.size());
  return from_kth(k_, values_.back());
}

void KmvSketch::merge(const KmvSketch& other) {
  const uint32_t k = std::min(k_, other.k_);
  std::vector<uint64_t> out;
  out.reserve(k);
  auto a = values_.begin();
  auto b = other.values_.begin();
  while (out.size() < k && (a != values_.end() || b != other.values_.end())) {
    uint64_t v;
    if (b == other.values_.end() || (a != values_.end() && *a < *b)) {
      v = *a++;
    } else if (a == values_.end() || *b < *a) {
      v = *b++;
    } else {
      v = *a++;
      ++b;
    }
    out.push_back(v);
  }
  values_ = std::move(out);
  k_ = k;
}

double KmvSketch::union_estimate(const KmvSketch& a, const KmvSketch& b) {
  const uint32_t k = std::min(a.k_, b.k_);
  size_t taken = 0;
  uint64_t last = 0;
  auto x = a.values_.begin();
  auto y = b.values_.begin();
  while (taken < k && (x != a.values_.end() || y != b.values_.end())) {
    if (y == b.values_.end() || (x != a.values_.end() && *x < *y)) {
      last = *x++;
    } else if (x == a.values_.end() || *y < *x) {
      last = *y++;
    } else {
      last = *x++;
      ++y;
    }
    ++taken;
  }
  // Fewer than k values in the union's sketch: both were exact and so is the union.
  if (taken < k) return static_cast<double>(taken);
  return from_kth(k, last);
}

}  // namespace densevm::planner
