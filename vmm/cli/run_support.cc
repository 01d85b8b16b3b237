#include "vmm/cli/run_support.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <stdexcept>
#include <thread>
#include <variant>

#include "vmm/file_bytes.h"
#include "vmm/linux/linux_kernel.h"

namespace densevm {

void ConsoleLines::line(int vm, std::string_view text) {
  std::lock_guard lock(mu_);
  if (prefix_) std::printf("[vm%d] ", vm);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

uint64_t frame_store_capacity(uint64_t ram_bytes) {
  return ram_bytes + ram_bytes / 8 + (uint64_t{1} << 30);
}

int report_endings(std::span<const Vm* const> vms) {
  int status = 0;
  for (const Vm* vm : vms) {
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

GuestImage load_guest_image(const RunOptions& o, std::span<const uint8_t> builtin) {
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

std::vector<std::unique_ptr<Vm>> boot_vms(const RunOptions& o, FrameStore& frames, const GuestImage& image,
                                          const Vm::ConsoleSink& sink) {
  std::vector<std::unique_ptr<Vm>> vms;
  for (unsigned k = 0; k < o.vms; ++k) {
    VmConfig c;
    c.id = static_cast<int>(k);
    c.mem_bytes = o.mem_bytes;
    c.paging = o.mmu;
    c.check_mmu = o.check_mmu;
    c.translate = o.translate;
    c.cmdline = o.cmdline + " vm=" + std::to_string(k);
    std::visit([&](const auto& guest) { vms.push_back(std::make_unique<Vm>(frames, guest, c, sink)); }, image);
  }
  return vms;
}

unsigned worker_threads(unsigned requested) {
  return requested != 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace densevm
