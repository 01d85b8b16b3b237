#include "cow-snapshots/internal/checkpoint_run.h"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "vmm/cli/options.h"
#include "vmm/cli/run_support.h"
#include "vmm/cli/stats_json.h"
#include "vmm/scheduler.h"

namespace densevm::snapshot {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

uint64_t parse_count(const std::string& flag, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos || text.size() > 19) {
    throw UsageError(flag + " takes a number of instructions, not '" + text + "'");
  }
  return std::stoull(text);
}


Frozen freeze(std::unique_ptr<Vm> vm, const CheckpointOptions& c, const SaveOptions& options) {
  if (c.save_path && options.parent == nullptr && vm->memory().materialize() != GuestMemory::Populate::kMapped) {
    throw std::runtime_error("cannot save: the VM's snapshot pages could not all be read");
  }
  Frozen frozen{std::make_shared<VmTemplate>(std::move(vm)), nullptr};
  if (c.save_path) frozen.save = std::make_unique<BackgroundSave>(frozen.tmpl, *c.save_path, options);
  return frozen;
}

Handover::Handover(Frozen& frozen, const GuestMemory& successor) : frozen_(frozen), successor_(successor) {
  for (const GuestMemory::Range& r : successor.ram_ranges()) end_ = std::max(end_, r.begin.value() + r.size);
}

void Handover::step() {
  if (!started_) {
    if (frozen_.save && !frozen_.save->done()) return;
    if (frozen_.save) (void)frozen_.save->finish();  // joins: the thread's reads are over
    frozen_.tmpl->hand_over();
    started_ = true;
  }
  if (next_ >= end_) return;
  (void)frozen_.tmpl->trim(successor_, Gpa{next_}, Gpa{std::min(next_ + kChunk, end_)});
  next_ += kChunk;
}

nlohmann::ordered_json checkpoint_stats(uint64_t at, double pause, Frozen& frozen, const CheckpointOptions& c,
                                        bool diff) {
  nlohmann::ordered_json j = {{"checkpoint_at", at},
                              {"saved", false},
                              {"pause_seconds", pause},
                              {"template_pages_released", frozen.tmpl->released()}};
  if (!frozen.save) return j;
  const BackgroundSave::Result& r = frozen.save->finish();
  const SaveStats& s = r.stats;
  j["saved"] = r.error.empty();
  j["save_seconds"] = r.seconds;
  if (!r.error.empty()) {
    j["save_error"] = r.error;
    return j;
  }
  j.update(nlohmann::ordered_json{{"file_bytes", s.file_bytes},
                                  {"pages_mapped", s.pages_mapped},
                                  {"pages_stored", s.pages_stored},
                                  {"pages_zero_elided", s.zero_pages},
                                  {"pages_duplicate", s.duplicate_pages},
                                  {"diff", diff},
                                  {"pages_unchanged", s.unchanged_pages},
                                  {"pages_dropped", s.dropped_pages},
                                  {"compressed", c.compress}});
  return j;
}

std::vector<std::unique_ptr<Vm>> restore_clones(const VmImage& image, FrameStore& frames, const Vm::ConsoleSink& sink,
                                                unsigned count, uint64_t first_clone, bool lazy) {
  std::vector<std::unique_ptr<Vm>> vms;
  for (unsigned k = 0; k < count; ++k) {
    vms.push_back(restore_vm(image, frames, sink,
                             {.lazy = lazy, .vm_id = static_cast<int>(k), .clone = first_clone + k, .same_vm = false}));
  }
  return vms;
}

std::vector<Vm*> list_of(const std::vector<std::unique_ptr<Vm>>& vms) {
  std::vector<Vm*> list;
  for (const auto& vm : vms) list.push_back(vm.get());
  return list;
}

void run_all(const std::vector<std::unique_ptr<Vm>>& vms, unsigned threads, uint64_t slice,
             const Between& between, const Budget& budget) {
  Scheduler scheduler(list_of(vms), threads, slice);
  if (budget) scheduler.set_budget(budget);
  scheduler.run([](size_t) {}, [&between] {
    if (between) between();
  });
}

bool run_to_checkpoint(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c, unsigned threads,
                       uint64_t slice, const Between& between) {
  run_all(vms, threads, slice, between, [&c, slice](const Vm& vm) -> uint64_t {
    if (c.at_marker) return vm.markers() >= c.at_marker ? 0 : slice;
    const uint64_t retired = vm.stats().instructions;
    return retired >= *c.at ? 0 : *c.at - retired;
  });
  for (const auto& vm : vms) {
    if (vm->state() == Vm::State::kRunning) continue;
    const std::string point = c.at_marker ? "marker " + std::to_string(c.at_marker) : std::to_string(*c.at);
    std::fprintf(stderr, "densevm: vm%d ended before --checkpoint-at %s; nothing saved\n", vm->id(), point.c_str());
    std::vector<const Vm*> view;
    for (const auto& v : vms) view.push_back(v.get());
    (void)report_endings(view);
    return false;
  }
  return true;
}

int end_run(const std::vector<std::unique_ptr<Vm>>& vms, const FrameStore& frames, Clock::time_point start,
            unsigned threads, const nlohmann::ordered_json& snapshot, const std::optional<std::string>& stats_path,
            std::span<Frozen> frozen, const std::optional<DedupStats>& dedup) {
  std::vector<const Vm*> view;
  for (const auto& vm : vms) view.push_back(vm.get());
  int status = report_endings(view);
  for (Frozen& f : frozen) {
    if (!f.save) continue;
    const std::string& error = f.save->finish().error;
    if (!error.empty()) {
      std::fprintf(stderr, "densevm: %s\n", error.c_str());
      if (status == 0) status = 1;
    }
  }
  if (stats_path) {
    nlohmann::ordered_json doc = stats_document(view, frames, seconds_since(start), threads);
    add_dedup_stats(doc, dedup ? &*dedup : nullptr);
    doc["snapshot"] = snapshot;
    write_stats(doc, *stats_path);
  }
  return status;
}

}  // namespace densevm::snapshot
