#include "numa/node_memory.h"

#include <numa.h>
#include <numaif.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>

namespace densevm {
namespace {

// A node mask for mbind: one bit per node, in unsigned longs.
std::vector<unsigned long> node_mask(std::span<const int> nodes, unsigned long& max_node) {
  constexpr int kBits = 8 * sizeof(unsigned long);
  int top = 0;
  for (int n : nodes) top = std::max(top, n);
  std::vector<unsigned long> mask(static_cast<size_t>(top / kBits + 1), 0);
  for (int n : nodes) mask[static_cast<size_t>(n / kBits)] |= 1UL << (n % kBits);
  // The kernel reads maxnode - 1 bits.
  max_node = static_cast<unsigned long>(mask.size() * kBits + 1);
  return mask;
}

}  // namespace

bool prefer_node(void* base, uint64_t bytes, int node) {
  const int one[] = {node};
  unsigned long max_node = 0;
  const std::vector<unsigned long> mask = node_mask(one, max_node);
  return mbind(base, bytes, MPOL_PREFERRED, mask.data(), max_node, 0) == 0;
}

bool interleave(void* base, uint64_t bytes, std::span<const int> nodes) {
  unsigned long max_node = 0;
  const std::vector<unsigned long> mask = node_mask(nodes, max_node);
  return mbind(base, bytes, MPOL_INTERLEAVE, mask.data(), max_node, 0) == 0;
}

std::vector<int> nodes_of(std::span<void* const> pages) {
  std::vector<int> status(pages.size(), -ENOENT);
  // In chunks: the kernel copies the arrays in, and a VM has up to millions of pages.
  constexpr size_t kChunk = 16384;
  for (size_t at = 0; at < pages.size(); at += kChunk) {
    const size_t n = std::min(kChunk, pages.size() - at);
    if (move_pages(0, n, const_cast<void**>(pages.data() + at), nullptr, status.data() + at, 0) != 0) {
      std::fill_n(status.begin() + static_cast<std::ptrdiff_t>(at), n, -errno);
    }
  }
  return status;
}

bool pin_thread_to(std::span<const int> cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  return sched_setaffinity(0, sizeof(set), &set) == 0;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

int current_cpu() { return sched_getcpu(); }

uint64_t node_free_bytes(int node) {
  long long free = 0;
  if (numa_node_size64(node, &free) <= 0) return 0;
  return static_cast<uint64_t>(std::max(free, 0LL));
}

}  // namespace densevm
