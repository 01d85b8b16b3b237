#include "cli/stats_json.h"

#include <cstdio>

#include "cli/host_stats.h"
#include "core/atomic_file.h"

namespace densevm::cli {

nlohmann::ordered_json stats_document(const std::vector<std::unique_ptr<Vm>>& vms, const FrameStore& frames,
                                      double wall_seconds, unsigned threads) {
  nlohmann::ordered_json doc;
  const FrameStoreStats fs = frames.stats();
  uint64_t translate_ns = 0;  // wall time, so here and not in the VMs' deterministic counters
  for (const auto& vm : vms) translate_ns += vm->stats().translation.translate_ns;
  doc["host"] = {
      {"rss_bytes", host_rss_bytes()},
      {"peak_rss_bytes", host_peak_rss_bytes()},
      {"rss_anon_bytes", host_rss_anon_bytes()},
      {"shmem_bytes", host_shmem_bytes()},
      {"frames_resident", fs.frames_resident},
      {"frames_shared", fs.frames_shared},
      {"anon_huge_bytes", host_anon_huge_bytes()},
      {"huge_chunks", fs.huge_chunks},
      {"huge_frames", fs.huge_frames},
      {"huge_chunks_freed", fs.huge_chunks_freed},
      {"huge_chunks_split", fs.huge_chunks_split},
      {"huge_fallbacks", fs.huge_fallbacks},
      {"wall_seconds", wall_seconds},
      {"threads", threads},
      {"translate_seconds", static_cast<double>(translate_ns) / 1e9},
  };
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& vm : vms) {
    const VmStats s = vm->stats();
    nlohmann::ordered_json v;
    v["id"] = vm->id();
    v["exit_code"] = vm->state() == Vm::State::kExited ? vm->exit_status() : -1;
    v["state"] = vm->state() == Vm::State::kExited ? "exited"
                 : vm->state() == Vm::State::kFailed ? "failed" : "running";
    if (vm->state() == Vm::State::kFailed) v["failure"] = vm->failure();
    v["instructions"] = s.instructions;
    v["virtual_time"] = s.virtual_time;
    v["mmu"] = {
        {"mode", vm->mmu_mode()},
        {"tlb_misses", s.tlb_misses},
        {"walks", s.walks},
        {"walk_refs", s.walk_refs},
        {"invlpg", s.invlpg},
        {"cr3_loads", s.cr3_loads},
        {"guest_page_faults", s.guest_page_faults},
        {"sync_faults", s.sync_faults},
        {"emulated_pt_writes", s.emulated_pt_writes},
        {"unsync_resyncs", s.unsync_resyncs},
        {"mode_switches", s.mode_switches},
        {"shadow_hits", s.shadow_hits},
        {"shadow_root_hits", s.shadow_root_hits},
        {"shadow_retirements", s.shadow_retirements},
        {"shadow_tables_reclaimed", s.shadow_tables_reclaimed},
        {"checks", s.mmu_checks},
    };
    v["memory"] = {
        {"configured_bytes", vm->config().mem_bytes},
        {"resident_pages", s.resident_pages},
        {"demand_faults", s.demand_faults},
        {"cow_breaks", s.cow_breaks},
    };
    const BalloonStats b = vm->balloon().stats();
    v["memory"]["ballooned_pages"] = b.ballooned_pages;
    v["balloon"] = {
        {"target_pages", b.target_pages},
        {"actual_pages", b.actual_pages},
        {"inflated_total", b.inflated_total},
        {"deflated_total", b.deflated_total},
        {"reported_free_pages", b.reported_free_pages},
        {"discarded_pages", b.discarded_pages},
        {"rejected_pfns", b.rejected_pfns + b.duplicate_inflates + b.stray_deflates},
        {"stats_updates", b.stats_updates},
        {"guest_free_bytes", vm->balloon().guest_report().free_bytes},
        {"device_failures", vm->balloon_transport().failures()},
    };
    v["cpu"] = {
        {"exceptions", s.exceptions},
        {"interrupts", s.interrupts},
        {"timer_ticks", s.timer_ticks},
        {"decoded_instructions", s.decodes},
        {"code_invalidations", s.code_invalidations},
        {"unimplemented_ud", s.unimplemented_ud},
        {"unimplemented_first", s.unimplemented_first},
        {"translate", {{"blocks_translated", s.translation.blocks_translated},
                         {"instructions_translated", s.translation.instructions_translated},
                         {"retired_translated", s.translation.retired_translated},
                         {"entries", s.translation.entries},
                         {"chained", s.translation.chained},
                         {"linked", s.translation.linked},
                         {"cache_bytes", s.translation.cache_bytes},
                         {"shared_reused", s.translation.shared_reused},
                         {"shared_bytes", s.translation.shared_bytes},
                         {"flushes", s.translation.flushes},
                         {"blocks_invalidated", s.translation.blocks_invalidated}}},
    };
    v["vmm"] = {
        {"translation_bytes", s.translation.cache_bytes},
        {"decode_cache_bytes", s.decode_cache_bytes},
        {"decode_cache_flushes", s.decode_cache_flushes},
        {"soft_tlb_bytes", s.soft_tlb_bytes},
        {"p2m_table_bytes", s.p2m_table_bytes},
        {"shadow_table_bytes", s.shadow_table_bytes},
    };
    list.push_back(std::move(v));
  }
  doc["vms"] = std::move(list);
  return doc;
}

void add_dedup_stats(nlohmann::ordered_json& doc, const DedupStats* dedup) {
  const DedupStats none;
  const DedupStats& d = dedup ? *dedup : none;
  doc["dedup"] = {
      {"enabled", dedup != nullptr},
      {"pages_scanned", d.pages_scanned},
      {"pages_hashed", d.pages_hashed},
      {"pages_clean", d.pages_clean},
      {"full_passes", d.full_passes},
      {"merges", d.merges},
      {"shared_frames", d.shared_frames},
      {"sharing_pages", d.sharing_pages},
      {"zero_pages", d.zero_pages},
      {"cow_breaks", d.cow_breaks},
      {"bytes_saved", d.bytes_saved},
      {"volatile_pages", d.volatile_pages},
      {"verify_mismatches", d.verify_mismatches},
      {"cross_group_frames", d.cross_group_frames},
      {"frames_moved", d.frames_moved},
      {"scan_seconds", d.scan_seconds},
  };
  nlohmann::ordered_json& vms = doc["vms"];
  for (size_t i = 0; i < vms.size(); ++i) {
    vms[i]["memory"]["shared_pages"] =
        i < d.member_shared_pages.size() ? d.member_shared_pages[i] : uint64_t{0};
  }
}

void write_stats(const nlohmann::ordered_json& doc, const std::string& path) {
  const std::string text = doc.dump(2) + "\n";
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return;
  }
  AtomicFile file(path, 0644, "stats to " + path);
  file.write({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  file.commit();
}

}  // namespace densevm::cli
