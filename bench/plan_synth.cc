// plan_synth: synthetic fingerprint files of a large fleet, for bench/plan_fleet.sh (1,000 VMs
// of 4 GiB is 4 TiB of guest memory: no machine here holds the images, but their fingerprints
// are what the planner reads). Each VM's pages, in runs of 100 like memfill's mix:
//   25% zero; 15% the same in every VM (a shared base image); 30% its family's (VM v belongs to
//   family v mod F: an OS image or an application); 30% its own.
// Family and base pages sit at the same addresses in every VM of the family, so clones of a
// family member diverge only in the unique pages.
//
//   plan_synth OUT_DIR VMS GIB [FAMILIES]    (writes OUT_DIR/vmNNNN.fp)
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "planner/fingerprint_file.h"
#include "planner/internal/test_fingerprints.h"

using namespace densevm::planner;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR VMS GIB [FAMILIES]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  const uint64_t vms = std::strtoull(argv[2], nullptr, 10);
  const uint64_t pages = std::strtoull(argv[3], nullptr, 10) << 18;
  const uint64_t families = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 20;
  std::filesystem::create_directories(dir);
  for (uint64_t v = 0; v < vms; ++v) {
    std::vector<uint64_t> h(pages);
    const uint64_t family = v % families;
    for (uint64_t i = 0; i < pages; ++i) {
      const uint64_t kind = i % 100;
      if (kind < 25) {
        h[i] = testing::kZero;
      } else if (kind < 40) {
        h[i] = testing::content((uint64_t{1} << 60) + i);
      } else if (kind < 70) {
        h[i] = testing::content((uint64_t{2} << 60) + (family << 40) + i);
      } else {
        h[i] = testing::content((uint64_t{3} << 60) + (v << 40) + i);
      }
    }
    char name[32];
    std::snprintf(name, sizeof name, "vm%04llu", static_cast<unsigned long long>(v));
    Fingerprint fp = fingerprint_of(name, ImageKind::kRaw, {{0, pages}}, std::move(h));
    fp.image_bytes = pages * kPageBytes;
    write_fingerprint(fp, dir + "/" + name + ".fp");
  }
  return 0;
}
