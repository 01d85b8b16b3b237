#include "numa/node_memory.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "numa/topology.h"

namespace densevm {
namespace {

// On whatever host runs the tests: memory preferred to the first node and touched is on it
// by the kernel's answer; an untouched page is not present.
TEST(NodeMemory, PreferredPagesLandOnTheNodeAndTheKernelSaysSo) {
  const Topology host = read_host_topology();
  const int node = host.nodes.front().id;
  constexpr size_t kBytes = 8 * 4096;
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_TRUE(prefer_node(p, kBytes, node)) << std::strerror(errno);
  auto* bytes = static_cast<uint8_t*>(p);
  std::memset(bytes, 1, 4 * 4096);
  void* pages[] = {bytes, bytes + 3 * 4096, bytes + 7 * 4096};
  const std::vector<int> where = nodes_of(pages);
  EXPECT_EQ(where[0], node);
  EXPECT_EQ(where[1], node);
  EXPECT_EQ(where[2], -ENOENT);
  munmap(p, kBytes);
}

TEST(NodeMemory, ThreadPinnedToANodesCpusRunsThere) {
  const Topology host = read_host_topology();
  const std::vector<int>& cpus = host.nodes.back().cpus;
  ASSERT_FALSE(cpus.empty());
  cpu_set_t before;
  ASSERT_EQ(sched_getaffinity(0, sizeof(before), &before), 0);
  ASSERT_TRUE(pin_thread_to({&cpus.back(), 1}));
  EXPECT_EQ(current_cpu(), cpus.back());
  ASSERT_EQ(sched_setaffinity(0, sizeof(before), &before), 0);
  EXPECT_GT(node_free_bytes(host.nodes.back().id), 0u);
  EXPECT_EQ(node_free_bytes(1 << 20), 0u);
}

}  // namespace
}  // namespace densevm
