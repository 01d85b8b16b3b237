// PageSets: each VM's distinct non-zero page contents, held exactly (sorted hashes) while
// they fit in memory or as KMV sketches beyond, answering what sharing-aware planning asks:
// how many distinct pages a set of VMs holds together (a host's memory with dedup) and how
// many two VMs share. Sketched answers are kept within what is certain: a union holds at
// least its largest member and at most the sum of its members.
//
//   PageSets sets = PageSets::exact({distinct_nonzero(a), distinct_nonzero(b)});
//   PageSets::Union host = sets.start();
//   host.add(0);
//   uint64_t grows_by = host.pages_with(1) - host.pages();
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "planner/internal/hash_set64.h"
#include "planner/kmv_sketch.h"

namespace densevm::planner {

class PageSets {
 public:
  // Each set ascending without repeats (distinct_nonzero).
  [[nodiscard]] static PageSets exact(std::vector<std::vector<uint64_t>> sets);
  // Each VM's sketch and its exact distinct count (from its fingerprint).
  [[nodiscard]] static PageSets sketched(std::vector<KmvSketch> sketches, std::vector<uint64_t> distinct);

  [[nodiscard]] size_t size() const { return distinct_.size(); }
  [[nodiscard]] bool is_exact() const { return exact_; }
  [[nodiscard]] uint64_t distinct(size_t vm) const { return distinct_[vm]; }
  [[nodiscard]] const KmvSketch& sketch(size_t vm) const { return sketches_[vm]; }
  // An exact set: the VM's distinct non-zero page hashes, ascending.
  [[nodiscard]] const std::vector<uint64_t>& pages(size_t vm) const { return sets_[vm]; }
  // Pages both VMs hold.
  [[nodiscard]] uint64_t shared_pages(size_t a, size_t b) const;

  // The distinct pages of a growing set of VMs (one host's).
  class Union {
   public:
    void add(size_t vm);
    [[nodiscard]] uint64_t pages() const;
    // pages() once vm is added, without adding it.
    [[nodiscard]] uint64_t pages_with(size_t vm) const;
    [[nodiscard]] const std::vector<size_t>& members() const { return members_; }

   private:
    friend class PageSets;
    explicit Union(const PageSets& sets) : sets_(&sets), sketch_(KmvSketch::kDefaultK) {}
    [[nodiscard]] uint64_t bounded(double estimate, uint64_t at_least, uint64_t at_most) const;

    const PageSets* sets_;
    std::vector<size_t> members_;
    internal::HashSet64 hashes_;                  // exact sets
    KmvSketch sketch_;                            // sketched sets
    uint64_t largest_ = 0;                        // the largest member's distinct pages
    uint64_t sum_ = 0;                            // every member's
    bool first_ = true;
  };
  [[nodiscard]] Union start() const { return Union(*this); }
  [[nodiscard]] uint64_t union_pages(std::span<const size_t> vms) const;

 private:
  std::vector<std::vector<uint64_t>> sets_;
  std::vector<KmvSketch> sketches_;
  std::vector<uint64_t> distinct_;
  bool exact_ = true;
};

}  // namespace densevm::planner
