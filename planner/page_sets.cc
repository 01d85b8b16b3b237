#include "planner/page_sets.h"

#include <algorithm>
#include <cmath>

namespace densevm::planner {

PageSets PageSets::exact(std::vector<std::vector<uint64_t>> sets) {
  PageSets p;
  for (const auto& s : sets) p.distinct_.push_back(s.size());
  p.sets_ = std::move(sets);
  return p;
}

PageSets PageSets::sketched(std::vector<KmvSketch> sketches, std::vector<uint64_t> distinct) {
  PageSets p;
  p.exact_ = false;
  p.sketches_ = std::move(sketches);
  p.distinct_ = std::move(distinct);
  return p;
}

uint64_t PageSets::shared_pages(size_t a, size_t b) const {
  if (a == b) return distinct_[a];
  if (is_exact()) {
    const auto& x = sets_[a];
    const auto& y = sets_[b];
    uint64_t n = 0;
    for (size_t i = 0, j = 0; i < x.size() && j < y.size();) {
      if (x[i] < y[j]) {
        ++i;
      } else if (y[j] < x[i]) {
        ++j;
      } else {
        ++n, ++i, ++j;
      }
    }
    return n;
  }
  const double both = KmvSketch::union_estimate(sketches_[a], sketches_[b]);
  const double shared = static_cast<double>(distinct_[a] + distinct_[b]) - both;
  return static_cast<uint64_t>(std::clamp(std::round(shared), 0.0, static_cast<double>(std::min(distinct_[a], distinct_[b]))));
}

uint64_t PageSets::Union::bounded(double estimate, uint64_t at_least, uint64_t at_most) const {
  return static_cast<uint64_t>(std::clamp(std::round(estimate), static_cast<double>(at_least), static_cast<double>(at_most)));
}

void PageSets::Union::add(size_t vm) {
  members_.push_back(vm);
  const uint64_t d = sets_->distinct_[vm];
  largest_ = std::max(largest_, d);
  sum_ += d;
  if (sets_->is_exact()) {
    for (const uint64_t h : sets_->sets_[vm]) hashes_.insert(h);
    return;
  }
  if (first_) {
    sketch_ = sets_->sketches_[vm];
  } else {
    sketch_.merge(sets_->sketches_[vm]);
  }
  first_ = false;
}

uint64_t PageSets::Union::pages() const {
  if (members_.empty()) return 0;
  if (sets_->is_exact()) return hashes_.size();
  return bounded(sketch_.estimate(), largest_, sum_);
}

uint64_t PageSets::Union::pages_with(size_t vm) const {
  const uint64_t d = sets_->distinct_[vm];
  if (members_.empty()) return d;
  if (sets_->is_exact()) return hashes_.size() + hashes_.count_missing(sets_->sets_[vm]);
  return bounded(KmvSketch::union_estimate(sketch_, sets_->sketches_[vm]), std::max(largest_, d), sum_ + d);
}

uint64_t PageSets::union_pages(std::span<const size_t> vms) const {
  Union u = start();
  for (const size_t v : vms) u.add(v);
  return u.pages();
}

}  // namespace densevm::planner
