#include "planner/fingerprint.h"

#include <xxhash.h>

#include <algorithm>
#include <stdexcept>

#include "dedup/page_hash.h"

namespace densevm::planner {

const char* image_kind_name(ImageKind kind) {
  switch (kind) {
    case ImageKind::kSnapshot:
      return "snapshot";
    case ImageKind::kQemuDump:
      return "qemu-dump";
    case ImageKind::kRaw:
      return "raw";
  }
  return "unknown";
}

uint64_t zero_page_hash() {
  static const uint64_t hash = xxh3_page(zero_page());
  return hash;
}

bool position_sampled(uint64_t gpa) {
  const uint64_t pfn = gpa / kPageBytes;
  return XXH3_64bits_withSeed(&pfn, sizeof pfn, 0x706c616e) % kPositionSampleRate == 0;
}

std::vector<uint64_t> distinct_nonzero(const Fingerprint& fp) {
  const uint64_t zero = zero_page_hash();
  std::vector<uint64_t> out;
  out.reserve(fp.page_hashes.size() - std::min<size_t>(fp.page_hashes.size(), fp.zero_pages));
  for (const uint64_t h : fp.page_hashes) {
    if (h != zero) out.push_back(h);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Fingerprint fingerprint_of(std::string name, ImageKind kind, std::vector<PageRun> ranges,
                           std::vector<uint64_t> page_hashes, uint32_t sketch_k) {
  Fingerprint fp;
  fp.name = std::move(name);
  fp.kind = kind;
  fp.ranges = std::move(ranges);
  for (const PageRun& r : fp.ranges) fp.ram_pages += r.pages;
  if (fp.ram_pages != page_hashes.size()) throw std::invalid_argument("one hash per page of the ranges");
  fp.page_hashes = std::move(page_hashes);
  const uint64_t zero = zero_page_hash();
  fp.zero_pages = static_cast<uint64_t>(std::count(fp.page_hashes.begin(), fp.page_hashes.end(), zero));
  const std::vector<uint64_t> distinct = distinct_nonzero(fp);
  fp.distinct_pages = distinct.size();
  fp.sketch = KmvSketch::of(distinct, sketch_k);
  size_t i = 0;
  for (const PageRun& r : fp.ranges) {
    for (uint64_t p = 0; p < r.pages; ++p, ++i) {
      const uint64_t gpa = r.gpa + p * kPageBytes;
      if (position_sampled(gpa)) fp.samples.push_back({gpa, fp.page_hashes[i]});
    }
  }
  return fp;
}

}  // namespace densevm::planner
