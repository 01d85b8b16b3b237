// `densevm snapshot inspect FILE`.
#include <cinttypes>
#include <cstdio>

#include "cli/commands.h"
#include "cow-snapshots/snapshot_file.h"
#include "mmu/mmu_policy.h"

namespace densevm::cli {

int inspect_command(const std::string& file) {
  using namespace snapshot;
  const Snapshot s = load_snapshot_file(file);
  std::printf("snapshot %s\n", file.c_str());
  std::printf("  version %u, flags 0x%x%s, %" PRIu64 " bytes\n", s.version, s.flags,
              (s.flags & kFlagCompressed) ? " (pages zstd-compressed)" : "", s.file_bytes);
  std::printf("  config: mem %" PRIu64 " bytes, mmu %s, cmdline \"%s\"\n", s.config.mem_bytes,
              paging_mode_name(s.config.paging), s.config.cmdline.c_str());
  std::printf("  id %016" PRIx64 ", content checksum %016" PRIx64 "\n", s.lineage.id, s.content_checksum);
  if (s.is_diff()) {
    std::printf("  diff of %s (id %016" PRIx64 ", checksum %016" PRIx64 "): %" PRIu64 " pages changed, %" PRIu64
                " dropped\n",
                s.lineage.parent_name.c_str(), s.lineage.parent_id, s.lineage.parent_checksum,
                s.page_count - s.dropped_pages, s.dropped_pages);
  }
  std::printf("  pages: %" PRIu64 " mapped, %" PRIu64 " stored, %" PRIu64 " zero elided, %" PRIu64
              " duplicates\n",
              s.page_count - s.dropped_pages + s.zero_pages, s.stored_pages(), s.zero_pages, s.duplicate_pages);
  for (const Snapshot::SectionInfo& sec : s.sections) {
    std::printf("  section %-6s %12" PRIu64 " bytes  xxh3 %016" PRIx64 "  OK\n",
                section_name(sec.id), sec.bytes, sec.checksum);
  }
  std::printf("  checksums OK\n");
  return 0;
}

}  // namespace densevm::cli
