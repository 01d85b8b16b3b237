#include "vmm/scheduler.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "numa/node_memory.h"

namespace densevm {

void Scheduler::run(const std::function<void(size_t finished)>& tick,
                    const std::function<void()>& between_epochs) {
  using Slice = std::pair<Vm*, uint64_t>;  // a VM and its budget this epoch
  std::mutex mu;
  std::condition_variable work_cv, done_cv;
  // This epoch's slices by queue: queue 0 for any worker, queue 1 + i for node i's workers.
  std::vector<std::vector<Slice>> queues(1 + node_cpus_.size());
  std::vector<size_t> next(queues.size(), 0);  // next slice to hand out, per queue
  size_t outstanding = 0;  // slices handed out or waiting, not yet finished
  bool quit = false;

  const unsigned n = std::max(1u, std::min<unsigned>(threads_, static_cast<unsigned>(vms_.size())));
  // The workers are shared out round-robin over the nodes VMs are homed on (ascending), and
  // serve queue 0 too; without homes, queue 0 alone.
  std::vector<size_t> homed;  // queue indices of the nodes with VMs
  for (const Vm* vm : vms_) {
    const std::optional<uint32_t> home = vm->config().numa_home;
    if (home && 1 + *home < queues.size()) homed.push_back(1 + *home);
  }
  std::sort(homed.begin(), homed.end());
  homed.erase(std::unique(homed.begin(), homed.end()), homed.end());
  auto queue_of_worker = [&](unsigned w) -> size_t { return homed.empty() ? 0 : homed[w % homed.size()]; };
  std::vector<bool> node_has_worker(queues.size(), false);
  for (unsigned w = 0; w < n; ++w) node_has_worker[queue_of_worker(w)] = true;

  // One slice, on whichever thread: run_slice records guest failures itself; a host-side
  // error stops this VM only.
  auto run_one = [](Vm* vm, uint64_t budget) {
    try {
      (void)vm->run_slice(budget);
    } catch (const std::exception& e) {
      vm->abort(std::string("host error: ") + e.what());
    }
    vm->note_cpu(current_cpu());
  };

  // An epoch of one slice may run on this thread when that keeps it where a worker would:
  // no nodes, or one node whose CPUs include every CPU this thread may run on.
  const bool here_is_home = [&] {
    if (node_cpus_.empty()) return true;
    if (node_cpus_.size() > 1) return false;
    const std::vector<int> allowed = allowed_cpus();
    const std::vector<int>& node = node_cpus_[0];
    return !allowed.empty() && std::all_of(allowed.begin(), allowed.end(), [&](int c) {
      return std::find(node.begin(), node.end(), c) != node.end();
    });
  }();

  auto worker = [&](unsigned w) {
    const size_t own = queue_of_worker(w);
    if (own != 0) (void)pin_thread_to(node_cpus_[own - 1]);  // unpinned if refused: slower, not wrong
    // Its node's slices first, then anyone's.
    auto pick = [&]() -> std::optional<size_t> {
      if (next[own] < queues[own].size()) return own;
      if (next[0] < queues[0].size()) return 0;
      return std::nullopt;
    };
    std::unique_lock lock(mu);
    while (true) {
      std::optional<size_t> q;
      work_cv.wait(lock, [&] { return quit || (q = pick()).has_value(); });
      if (quit) return;
      const auto [vm, budget] = queues[*q][next[*q]++];
      lock.unlock();
      run_one(vm, budget);
      lock.lock();
      if (--outstanding == 0) done_cv.notify_all();
    }
  };

  std::vector<std::thread> workers;
  for (unsigned i = 0; i < n; ++i) workers.emplace_back(worker, i);

  // `tick` every 200 ms, with the number of VMs that have finished.
  auto last_tick = std::chrono::steady_clock::now();
  auto tick_due = [&] {
    return std::chrono::steady_clock::now() - last_tick >= std::chrono::milliseconds(200);
  };
  auto tick_now = [&] {
    size_t finished = 0;
    for (Vm* vm : vms_) finished += vm->state() != Vm::State::kRunning;
    tick(finished);
    last_tick = std::chrono::steady_clock::now();
  };
  while (true) {
    std::vector<std::vector<Slice>> running(queues.size());
    size_t count = 0;
    for (Vm* vm : vms_) {
      if (vm->state() != Vm::State::kRunning) continue;
      const uint64_t budget = budget_ ? std::min(slice_, budget_(*vm)) : slice_;
      if (budget == 0) continue;
      const std::optional<uint32_t> home = vm->config().numa_home;
      const size_t q = home && 1 + *home < queues.size() && node_has_worker[1 + *home] ? 1 + *home : 0;
      running[q].emplace_back(vm, budget);
      ++count;
    }
    if (count == 0) break;
    if (count == 1 && here_is_home) {
      // One slice: run it here rather than wake a worker and wait for it (two thread
      // switches an epoch, 3 000 of them in a Linux boot). The same slice, budget and epoch,
      // so nothing the guest sees changes.
      for (const std::vector<Slice>& q : running) {
        for (const auto& [vm, budget] : q) run_one(vm, budget);
      }
      if (tick_due()) tick_now();
    } else {
      std::unique_lock lock(mu);
      queues = std::move(running);
      std::fill(next.begin(), next.end(), 0);
      outstanding = count;
      work_cv.notify_all();
      while (outstanding > 0) {
        done_cv.wait_for(lock, std::chrono::milliseconds(200));
        if (tick_due()) {
          lock.unlock();
          tick_now();
          lock.lock();
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
