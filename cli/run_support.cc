#include "cli/run_support.h"

#include <cstdio>
#include <stdexcept>
#include <string>
#include <variant>

#include "vmm/file_bytes.h"
#include "vmm/linux/linux_kernel.h"

namespace densevm::cli {

void ConsoleLines::line(int vm, std::string_view text) {
  std::lock_guard lock(mu_);
  if (prefix_) std::fprintf(out_, "[vm%d] ", vm);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

GuestImage load_guest(const RunOptions& o, std::span<const uint8_t> builtin) {
  if (o.kernel) {
    LinuxGuest g{load_linux_kernel(*o.kernel), {}};
    if (o.initrd) g.initrd = read_file_bytes(*o.initrd);
    // Refused here, before anything runs, rather than by each VM's boot.
    if (g.initrd.size() > o.mem_bytes) {
      throw std::runtime_error("the initrd " + *o.initrd + " (" + std::to_string(g.initrd.size() >> 20) +
                               " MiB) is larger than guest RAM (--mem " + std::to_string(o.mem_bytes >> 20) + " MiB)");
    }
    return g;
  }
  if (o.guest) return load_elf_file(*o.guest);
  if (builtin.empty()) throw std::runtime_error("no guest given and no built-in guest kernel");
  try {
    return parse_elf(builtin);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("built-in guest kernel: ") + e.what());
  }
}

uint64_t frame_store_capacity(uint64_t ram_bytes) {
  return ram_bytes + ram_bytes / 8 + (uint64_t{1} << 30);
}

int report_endings(const std::vector<std::unique_ptr<Vm>>& vms) {
  int status = 0;
  for (const auto& vm : vms) {
    if (vm->state() == Vm::State::kFailed) {
      std::fprintf(stderr, "densevm: vm%d stopped: %s\n", vm->id(), vm->failure().c_str());
      if (status == 0) status = 1;
    } else if (vm->exit_status() != 0) {
      std::fprintf(stderr, "densevm: vm%d exited with status %d\n", vm->id(), vm->exit_status());
      if (status == 0) status = vm->exit_status();
    }
  }
  return status;
}

HostServicesConfig services_config(const SharingOptions& sharing, const BudgetOptions& budget,
                                   const NumaPlacement& numa) {
  HostServicesConfig c;
  c.dedup = sharing.dedup;
  c.dedup_rate = sharing.dedup_rate;
  c.dedup_scope = sharing.dedup_scope;
  c.dedup_numa_local = sharing.dedup_numa_local;
  c.groups = sharing.groups;
  c.host_budget_pages = budget.host_bytes >> kPageShift;
  if (!budget.node_bytes.empty()) {
    for (const uint64_t bytes : numa.node_budgets(budget.node_bytes)) c.node_budget_pages.push_back(bytes >> kPageShift);
  }
  return c;
}

HostServicesConfig services_config(const RunOptions& o, const NumaPlacement& numa) {
  HostServicesConfig c = services_config(o.sharing, o.budget, numa);
  if (o.balloon_target_bytes) c.balloon_target_pages = *o.balloon_target_bytes >> kPageShift;
  return c;
}

CpuConfig cpu_config(const LoopOptions& o) {
  switch (o.cpu) {
    case CpuMode::kInterp: return {};
    case CpuMode::kTranslate:
      return {.translate = true, .jit = {.hot_threshold = 0, .share = o.share_translations}};
    case CpuMode::kAuto: return {.translate = true, .jit = {.share = o.share_translations}};
  }
  return {};
}

bool huge_frames(HugeFrames setting, bool shares_or_balloons) {
  switch (setting) {
    case HugeFrames::kOff: return false;
    case HugeFrames::kOn: return true;
    case HugeFrames::kAuto: return !shares_or_balloons;
  }
  return false;
}

std::vector<std::unique_ptr<Vm>> boot_vms(const RunOptions& o, FrameStore& frames, const GuestImage& image,
                                          const Vm::ConsoleSink& sink, NumaPlacement& numa) {
  std::vector<std::unique_ptr<Vm>> vms;
  const bool balloons = o.balloon_target_bytes.has_value() || o.budget.any();
  const bool huge = huge_frames(o.loop.huge_frames, o.sharing.dedup || balloons);
  for (unsigned k = 0; k < o.vms; ++k) {
    VmConfig c;
    c.id = static_cast<int>(k);
    c.mem_bytes = o.mem_bytes;
    c.paging = o.mmu;
    c.check_mmu = o.check_mmu;
    c.cpu = cpu_config(o.loop);
    c.huge_frames = huge;
    c.cmdline = o.cmdline + " vm=" + std::to_string(k);
    std::optional<uint32_t> wanted;
    for (const auto& [vm, node] : o.vm_numa) {
      if (vm != k) continue;
      const std::optional<size_t> index = numa.topology().index_of(node);
      if (!index) throw std::invalid_argument("--vm-numa " + std::to_string(k) + ":" + std::to_string(node) +
                                              ": the host has no node " + std::to_string(node));
      wanted = static_cast<uint32_t>(*index);
    }
    c.numa_home = numa.place(c.mem_bytes, wanted);
    c.frame_pool = numa.pool_for(c.numa_home);
    if (c.numa_home) c.numa_node = numa.topology().nodes[*c.numa_home].id;
    std::visit([&](const auto& guest) { vms.push_back(std::make_unique<Vm>(frames, guest, c, sink)); }, image);
  }
  return vms;
}

}  // namespace densevm::cli
