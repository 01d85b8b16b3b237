#include "vmm/scheduler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace densevm {

void Scheduler::run(const std::function<void(size_t finished)>& tick,
                    const std::function<void()>& between_epochs) {
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  std::vector<std::pair<Vm*, uint64_t>> epoch;  // VMs to run in the current epoch, budgets
  size_t next = 0;         // next index in `epoch` to hand out
  size_t outstanding = 0;  // slices handed out and not yet finished
  uint64_t generation = 0;
  bool quit = false;

  auto worker = [&] {
    std::unique_lock lock(mu);
    uint64_t seen = 0;
    while (true) {
      work_cv.wait(lock, [&] { return quit || (generation != seen && next < epoch.size()); });
      if (quit) return;
      const auto [vm, budget] = epoch[next++];
      if (next == epoch.size()) seen = generation;
      lock.unlock();
      try {
        (void)vm->run_slice(budget);
      } catch (const std::exception& e) {
        // run_slice records guest failures itself; a host-side error stops this VM only.
        vm->abort(std::string("host error: ") + e.what());
      }
      lock.lock();
      if (--outstanding == 0) done_cv.notify_all();
    }
  };

  const unsigned n = std::max(1u, std::min<unsigned>(threads_, static_cast<unsigned>(vms_.size())));
  std::vector<std::thread> workers;
  for (unsigned i = 0; i < n; ++i) workers.emplace_back(worker);

  auto last_tick = std::chrono::steady_clock::now();
  while (true) {
    std::vector<std::pair<Vm*, uint64_t>> running;
    for (Vm* vm : vms_) {
      if (vm->state() != Vm::State::kRunning) continue;
      const uint64_t budget = budget_ ? std::min(slice_, budget_(*vm)) : slice_;
      if (budget != 0) running.emplace_back(vm, budget);
    }
    if (running.empty()) break;
    {
      std::unique_lock lock(mu);
      epoch = std::move(running);
      next = 0;
      outstanding = epoch.size();
      ++generation;
      work_cv.notify_all();
      while (outstanding > 0) {
        done_cv.wait_for(lock, std::chrono::milliseconds(200));
        if (std::chrono::steady_clock::now() - last_tick >= std::chrono::milliseconds(200)) {
          size_t finished = 0;
          for (Vm* vm : vms_) finished += vm->state() != Vm::State::kRunning;
          lock.unlock();
          tick(finished);
          lock.lock();
          last_tick = std::chrono::steady_clock::now();
        }
      }
    }
    ++epochs_;
    if (between_epochs) between_epochs();
  }
  {
    std::lock_guard lock(mu);
    quit = true;
  }
  work_cv.notify_all();
  for (auto& t : workers) t.join();
}

}  // namespace densevm
