// `densevm snapshot inspect FILE`: a restore up to the first instruction, then a listing.
//
// What inspect passes, restore takes: it reads the chain with the reader restore uses
// (load_snapshot_chain: the container, every checksum, the counts, every index entry inside
// guest RAM, the zstd frame, every stored page against its hash, the parents), builds the
// pages' table restore builds (SnapshotImage) and restores the state records into a VM of
// the file's config with restore's own restore_vm (every record decoded by the StateReader
// of the file's version and checked by its device), a VM that never runs.
#include <cinttypes>
#include <cstdio>

#include "cli/commands.h"
#include "cli/run_support.h"
#include "cow-snapshots/snapshot_file.h"
#include "cow-snapshots/snapshot_image.h"
#include "mmu/mmu_policy.h"
#include "vmm/vm_image.h"

namespace densevm::cli {

int inspect_command(const std::string& file, const std::optional<std::string>& parent) {
  using namespace snapshot;
  std::vector<Snapshot> chain = load_snapshot_chain(file, /*verify_pages=*/true, parent);
  const Snapshot s = chain.back();
  const size_t depth = chain.size();
  FrameStore frames(frame_store_capacity(s.config.mem_bytes));
  auto image = std::make_shared<SnapshotImage>(std::move(chain), frames, /*shared=*/false);
  // Lazy: the pages were checked above; only the page holding the generation id is loaded.
  (void)restore_vm(vm_image(image), frames, [](int, std::string_view) {}, {.lazy = true});

  std::printf("snapshot %s\n", file.c_str());
  std::printf("  version %u, flags 0x%x%s, %" PRIu64 " bytes\n", s.version, s.flags,
              (s.flags & kFlagCompressed) ? " (pages zstd-compressed)" : "", s.file_bytes);
  std::printf("  config: mem %" PRIu64 " bytes, mmu %s, cmdline \"%s\"\n", s.config.mem_bytes,
              paging_mode_name(s.config.paging), s.config.cmdline.c_str());
  if (s.config.numa_node) std::printf("  saved on NUMA node %d\n", *s.config.numa_node);
  std::printf("  id %016" PRIx64 ", content checksum %016" PRIx64 "\n", s.lineage.id, s.content_checksum);
  if (s.is_diff()) {
    std::printf("  diff of %s (id %016" PRIx64 ", checksum %016" PRIx64 "): %" PRIu64 " pages changed, %" PRIu64
                " dropped; chain of %zu files\n",
                s.lineage.parent_name.c_str(), s.lineage.parent_id, s.lineage.parent_checksum,
                s.page_count - s.dropped_pages, s.dropped_pages, depth);
  }
  // The elided count is the saver's: elided pages are listed nowhere, so it is checked only
  // against RAM (with the entries).
  std::printf("  pages: %" PRIu64 " mapped, %" PRIu64 " stored, %" PRIu64 " zero elided, %" PRIu64
              " duplicates\n",
              s.page_count - s.dropped_pages + s.zero_pages, s.stored_pages(), s.zero_pages, s.duplicate_pages);
  for (const Snapshot::SectionInfo& sec : s.sections) {
    std::printf("  section %-6s %12" PRIu64 " bytes  xxh3 %016" PRIx64 "  OK\n",
                section_name(sec.id), sec.bytes, sec.checksum);
  }
  std::printf("  checksums OK, index OK (every entry in guest RAM), %" PRIu64
              " stored pages match their hashes, state OK (restores)\n",
              s.stored_pages());
  return 0;
}

}  // namespace densevm::cli
