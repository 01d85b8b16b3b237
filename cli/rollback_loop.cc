#include "cli/rollback_loop.h"

#include <cstdint>
#include <unordered_map>

#include "cli/latency_window.h"
#include "cow-snapshots/memory_checkpoint.h"

namespace densevm::cli {

nlohmann::ordered_json rollback_loop(const std::vector<std::unique_ptr<Vm>>& vms, const CheckpointOptions& c,
                                     RunLoop& loop, HostServices& services, const RunLoop::Between& between) {
  const LatencyWindow pause_window;
  std::vector<VmState> states;
  std::vector<std::unique_ptr<snapshot::MemoryCheckpoint>> memories;
  std::vector<uint64_t> starts;
  uint64_t checkpoint_pages = 0;
  for (const auto& vm : vms) {
    states.push_back(vm->save());
    memories.push_back(std::make_unique<snapshot::MemoryCheckpoint>(vm->memory()));
    starts.push_back(vm->stats().instructions);
    checkpoint_pages += memories.back()->pages();
  }
  const HostServices::State services_state = services.save();
  const Latency pause = pause_window.read();
  nlohmann::ordered_json rounds = nlohmann::ordered_json::array();
  for (uint64_t k = 0; k < c.rollbacks; ++k) {
    std::unordered_map<const Vm*, uint64_t> targets;
    for (size_t i = 0; i < vms.size(); ++i) targets[vms[i].get()] = starts[i] + *c.rollback_every;
    loop.run(vms, between, [&targets](const Vm& vm) -> uint64_t {
      const uint64_t retired = vm.stats().instructions, target = targets.at(&vm);
      return retired < target ? target - retired : 0;
    });
    uint64_t ran = 0, restored = 0;
    const auto t0 = RunLoop::Clock::now();
    for (size_t i = 0; i < vms.size(); ++i) {
      ran += vms[i]->stats().instructions - starts[i];
      restored += memories[i]->rollback();
      vms[i]->restore(states[i], cpu::RestoredMemory::kReported);  // rollback() reported every page
    }
    services.restore(services_state);  // after the memory: a sampler's bits are in it
    rounds.push_back({{"instructions", ran},
                      {"pages_restored", restored},
                      {"rollback_seconds", RunLoop::seconds_since(t0)}});
  }
  return nlohmann::ordered_json{
      {"checkpoint_pages", checkpoint_pages}, {"pause_seconds", pause.seconds}, {"pause_faults", pause.faults}, {"rounds", rounds}};
}

}  // namespace densevm::cli
