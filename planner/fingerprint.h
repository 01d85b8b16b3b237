// Fingerprint: what the planner knows of one VM's memory, from an image of it (a densevm
// snapshot, a QEMU dump-guest-memory ELF core or a raw RAM file): every RAM page's XXH3-64
// in guest-physical order (the hash dedup uses, dedup/page_hash.h), the pages that read as
// zero, the distinct non-zero contents, a KMV sketch of those and a sample of page positions.
// Written and read as a file by fingerprint_file.h (FORMAT.md).
//
//   Fingerprint fp = fingerprint_of("vm0", ImageKind::kSnapshot, ranges, hashes);
//   uint64_t host = fp.distinct_pages * kPageBytes;   // this VM alone, deduplicated
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/kmv_sketch.h"

namespace densevm::planner {

inline constexpr uint64_t kPageBytes = 4096;

enum class ImageKind : uint8_t { kSnapshot = 1, kQemuDump = 2, kRaw = 3 };
[[nodiscard]] const char* image_kind_name(ImageKind kind);

// Guest-physical RAM: `pages` pages from `gpa` on.
struct PageRun {
  uint64_t gpa = 0;
  uint64_t pages = 0;
  friend bool operator==(const PageRun&, const PageRun&) = default;
};

// The page at a sampled position: the same positions in every VM (a fixed function of the
// page number), so clones' divergence from a template can be estimated without every page.
struct PositionSample {
  uint64_t gpa = 0;
  uint64_t hash = 0;
  friend bool operator==(const PositionSample&, const PositionSample&) = default;
};

struct Fingerprint {
  std::string name;  // the image's file name, as given
  ImageKind kind = ImageKind::kRaw;
  uint64_t image_bytes = 0;
  std::vector<PageRun> ranges;  // ascending, not overlapping
  uint64_t ram_pages = 0;       // pages in `ranges`
  uint64_t zero_pages = 0;      // read as zero: never touched, elided or written with zeros
  uint64_t distinct_pages = 0;  // distinct non-zero contents
  std::optional<uint64_t> working_set_pages;  // active pages, when the image records them
  KmvSketch sketch;                           // of the distinct non-zero page hashes
  std::vector<PositionSample> samples;        // ascending gpa
  // Per RAM page, in `ranges` order: its XXH3-64 (a zero page has zero_page_hash()). Empty
  // when the fingerprint was read without its pages.
  std::vector<uint64_t> page_hashes;

  [[nodiscard]] uint64_t nonzero_pages() const { return ram_pages - zero_pages; }
};

// XXH3-64 of a 4 KiB page of zeros: what a zero page's entry holds.
[[nodiscard]] uint64_t zero_page_hash();
// Whether the page at this guest-physical address is in the position sample (1 in 256).
[[nodiscard]] bool position_sampled(uint64_t gpa);
inline constexpr unsigned kPositionSampleRate = 256;

// Everything else from the page hashes (one per page of `ranges`, in order).
[[nodiscard]] Fingerprint fingerprint_of(std::string name, ImageKind kind, std::vector<PageRun> ranges,
                                         std::vector<uint64_t> page_hashes, uint32_t sketch_k = KmvSketch::kDefaultK);
// The VM's distinct non-zero page hashes, ascending (needs page_hashes).
[[nodiscard]] std::vector<uint64_t> distinct_nonzero(const Fingerprint& fp);

}  // namespace densevm::planner
