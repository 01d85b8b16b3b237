// read_snapshot_image: a densevm snapshot chain as page hashes (memory_image.h).
#include <string>
#include <vector>

#include "cow-snapshots/chain_pages.h"
#include "dedup/page_hash.h"
#include "planner/memory_image.h"

namespace densevm::planner {

MemoryImage read_snapshot_image(const std::string& path, const Progress& progress) {
  // The pages section's checksum is not read up front: every stored page is checked against
  // its own hash from the index below, in the same single pass that fingerprints it.
  const snapshot::ChainPages chain = [&path] {
    try {
      return snapshot::ChainPages(snapshot::load_snapshot_chain(path, /*verify_pages=*/false));
    } catch (const snapshot::SnapshotError& e) {
      throw ImageError(path + ": " + e.what());  // which of the images it was
    }
  }();
  MemoryImage m;
  m.kind = ImageKind::kSnapshot;
  for (const snapshot::Snapshot& s : chain.chain()) m.image_bytes += s.file_bytes;
  const uint64_t total = chain.stored_pages() * kPageBytes;
  std::vector<uint64_t> stored(chain.stored_pages());
  for (uint32_t s = 0; s < stored.size(); ++s) {
    stored[s] = xxh3_page(chain.data(s));
    if (stored[s] != chain.hash(s)) {
      throw ImageError("snapshot " + path + ": stored page " + std::to_string(s) + " failed its checksum");
    }
    if (progress && (s + 1) % 2048 == 0) progress(uint64_t{s + 1} * kPageBytes, total);
  }
  if (progress) progress(total, total);
  m.bytes_read = total;
  const uint64_t zero = zero_page_hash();
  m.page_hashes.assign(chain.ram_pages(), zero);
  chain.for_each_slot([&](uint64_t i, uint32_t s) { m.page_hashes[i] = stored[s]; });
  for (uint64_t i = 0; i < chain.ram_pages(); ++i) {
    const uint64_t gpa = chain.gpa_of(i).value();
    if (!m.ranges.empty() && m.ranges.back().gpa + m.ranges.back().pages * kPageBytes == gpa) {
      ++m.ranges.back().pages;
    } else {
      m.ranges.push_back({gpa, 1});
    }
  }
  return m;
}

}  // namespace densevm::planner
