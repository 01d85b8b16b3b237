#include "vmm/scheduler.h"

#include <gtest/gtest.h>
#include <sched.h>

#include <functional>
#include <optional>
#include <vector>

#include "tests/support/tiny_elf.h"

namespace densevm {
namespace {

// mov ecx, 20000; 1: dec ecx; jnz 1b; out 0xf4, al — 40001 instructions, many slices.
const std::vector<uint8_t> kSpin = {0xb9, 0x20, 0x4e, 0x00, 0x00, 0xff, 0xc9, 0x75, 0xfc, 0xe6, 0xf4};

// This thread's CPU affinity (a failed read fails the test and gives an empty set).
cpu_set_t affinity() {
  cpu_set_t set;
  CPU_ZERO(&set);
  EXPECT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  return set;
}

// The first two CPUs this thread may run on (fewer on a one-CPU host).
std::vector<int> first_two_cpus(const cpu_set_t& allowed) {
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  return cpus;
}

// `count` VMs running kSpin, VM k homed where `home(k)` says (no home for std::nullopt).
struct SpinVms {
  std::vector<std::unique_ptr<Vm>> vms;
  std::vector<Vm*> list;
};
SpinVms spin_vms(FrameStore& frames, int count, const std::function<std::optional<uint32_t>(int)>& home) {
  SpinVms out;
  for (int k = 0; k < count; ++k) {
    VmConfig c{.id = k, .mem_bytes = 16 << 20, .cmdline = ""};
    c.numa_home = home(k);
    out.vms.push_back(std::make_unique<Vm>(frames, parse_elf(testing::tiny_elf(kSpin)), c, [](int, std::string_view) {}));
    out.list.push_back(out.vms.back().get());
  }
  return out;
}

// Two "nodes" of one CPU each, on whatever host: the workers are pinned to their node's CPU
// and a VM homed on a node runs only there, by sched_getcpu; a VM with no home runs anywhere.
TEST(Scheduler, VmsRunOnlyOnTheWorkersOfTheirHomeNode) {
  const cpu_set_t allowed = affinity();
  const std::vector<int> cpus = first_two_cpus(allowed);
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  FrameStore frames(uint64_t{1} << 30);
  // vm0-vm3 alternate between the nodes; vm4 has no home.
  auto [vms, list] = spin_vms(frames, 5, [](int k) -> std::optional<uint32_t> {
    if (k < 4) return static_cast<uint32_t>(k % 2);
    return std::nullopt;
  });
  Scheduler sched(list, /*threads=*/4, /*slice=*/1000);
  sched.set_nodes({{cpus[0]}, {cpus[1]}});
  sched.run([](size_t) {});
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(vms[k]->state(), Vm::State::kExited) << vms[k]->failure();
    EXPECT_EQ(vms[k]->cpus_seen(), std::vector<int>{cpus[k % 2]}) << "vm" << k;
  }
  EXPECT_EQ(vms[4]->state(), Vm::State::kExited);
  EXPECT_FALSE(vms[4]->cpus_seen().empty());
  for (int c : vms[4]->cpus_seen()) EXPECT_TRUE(c == cpus[0] || c == cpus[1]) << c;
  // The workers' pinning stayed in the workers.
  const cpu_set_t after = affinity();
  EXPECT_TRUE(CPU_EQUAL(&allowed, &after));
}

// Every VM on the second node: both workers go there, none idles pinned to the first.
TEST(Scheduler, WorkersGoToTheNodesVmsAreHomedOn) {
  const cpu_set_t allowed = affinity();
  const std::vector<int> cpus = first_two_cpus(allowed);
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  FrameStore frames(uint64_t{1} << 30);
  auto [vms, list] = spin_vms(frames, 2, [](int) -> std::optional<uint32_t> { return 1; });
  Scheduler sched(list, /*threads=*/2, /*slice=*/1000);
  sched.set_nodes({{cpus[0]}, {cpus[1]}});
  sched.run([](size_t) {});
  for (const auto& vm : vms) EXPECT_EQ(vm->cpus_seen(), std::vector<int>{cpus[1]}) << "vm" << vm->id();
}

// One VM, one node: an epoch of one slice may run on the calling thread instead of a worker
// (no thread switches), but only if that thread cannot leave the node. Here it may run only
// on a CPU outside the node's, so the slices still run on the node's worker.
TEST(Scheduler, ASingleSliceRunsOnTheCallerOnlyWithinItsNode) {
  const cpu_set_t allowed = affinity();
  const std::vector<int> cpus = first_two_cpus(allowed);
  if (cpus.size() < 2) GTEST_SKIP() << "needs two CPUs";
  FrameStore frames(uint64_t{1} << 30);
  auto [vms, list] = spin_vms(frames, 1, [](int) -> std::optional<uint32_t> { return 0; });
  cpu_set_t outside;
  CPU_ZERO(&outside);
  CPU_SET(cpus[1], &outside);
  ASSERT_EQ(sched_setaffinity(0, sizeof(outside), &outside), 0);
  Scheduler sched(list, /*threads=*/1, /*slice=*/1000);
  sched.set_nodes({{cpus[0]}});
  sched.run([](size_t) {});
  ASSERT_EQ(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
  EXPECT_EQ(vms[0]->state(), Vm::State::kExited) << vms[0]->failure();
  EXPECT_EQ(vms[0]->cpus_seen(), std::vector<int>{cpus[0]});
}

}  // namespace
}  // namespace densevm
