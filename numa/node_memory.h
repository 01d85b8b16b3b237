// The kernel calls that place memory and threads by node, and ask where pages are: the only
// code besides read_host_topology() that calls libnuma. Each takes what it needs; none keeps
// state.
//
//   prefer_node(frames.pool_base(1), frames.pool_bytes(1), /*node=*/1);  // mbind the pool
//   std::vector<int> where = nodes_of({frames.host_ptr(hpa)});           // move_pages query
//   pin_thread_to(host.nodes[1].cpus);                                   // a worker of node 1
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace densevm {

// mbind(MPOL_PREFERRED) of [base, base + bytes) to `node`: pages first touched there come
// from that node while it has memory, and from another (the kernel's choice) when it has none,
// so a node full behind our back slows a guest but never kills the host (frames_by_node
// shows it). False when the kernel refused (errno kept).
[[nodiscard]] bool prefer_node(void* base, uint64_t bytes, int node);
// mbind(MPOL_INTERLEAVE) over `nodes`: pages round-robin by address.
[[nodiscard]] bool interleave(void* base, uint64_t bytes, std::span<const int> nodes);

// The node each page is on now, by the kernel (move_pages(2) with no target: query only):
// a node id, or a negative errno for a page not present (-ENOENT: never touched).
[[nodiscard]] std::vector<int> nodes_of(std::span<void* const> pages);

// Binds the calling thread to `cpus` (sched_setaffinity); false when the kernel refused.
[[nodiscard]] bool pin_thread_to(std::span<const int> cpus);
// The CPUs the calling thread may run on (sched_getaffinity), ascending; empty when the
// kernel refused.
[[nodiscard]] std::vector<int> allowed_cpus();
// The CPU the calling thread is on now (sched_getcpu), -1 when unknown.
[[nodiscard]] int current_cpu();
// Free memory of `node` now (numa_node_size64); 0 for a node that does not exist.
[[nodiscard]] uint64_t node_free_bytes(int node);

}  // namespace densevm
