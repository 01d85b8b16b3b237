// End-to-end tests of --numa on whatever host runs them (usually one node: every setting
// works and changes nothing). Placement on real multi-node machines is `make test-numa`
// (tests/numa/: QEMU machines of 2 and 4 nodes).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

// The host's nodes with memory, as the kernel lists them (/sys/devices/system/node/has_memory:
// "0" or "0-1" or "0,2").
int host_nodes() {
  std::ifstream in("/sys/devices/system/node/has_memory");
  std::string list;
  if (!(in >> list)) return 1;
  int count = 0;
  size_t at = 0;
  while (at < list.size()) {
    const size_t comma = std::min(list.find(',', at), list.size());
    const std::string part = list.substr(at, comma - at);
    const size_t dash = part.find('-');
    count += dash == std::string::npos ? 1 : std::stoi(part.substr(dash + 1)) - std::stoi(part.substr(0, dash)) + 1;
    at = comma + 1;
  }
  return count;
}

TEST(Numa, EverySettingRunsAndReportsTheKernelsPlacement) {
  for (const char* setting : {"auto", "off", "interleave", "node:0"}) {
    CliResult r;
    const nlohmann::json doc = run_stats({"run", "--vms", "2", "--mem", "32M", "--numa", setting}, &r);
    ASSERT_EQ(r.exit_code, 0) << setting << ": " << r.err;
    ASSERT_TRUE(doc.contains("numa")) << setting;
    EXPECT_EQ(doc["numa"]["policy"], setting);
    ASSERT_EQ(doc["numa"]["nodes"].size(), static_cast<size_t>(host_nodes()));
    uint64_t frames = 0;
    for (const auto& n : doc["numa"]["nodes"]) frames += n["frames"].get<uint64_t>();
    EXPECT_GT(frames, 0u) << setting;
    EXPECT_LE(frames, doc["host"]["frames_resident"].get<uint64_t>());
    for (const auto& vm : doc["vms"]) {
      const auto& by_node = vm["numa"]["frames_by_node"];
      ASSERT_EQ(by_node.size(), doc["numa"]["nodes"].size());
      uint64_t mine = 0;
      for (const auto& f : by_node) mine += f.get<uint64_t>();
      // Every mapped page is on a node or not present (a frame the host never wrote).
      EXPECT_EQ(mine + vm["numa"]["pages_not_present"].get<uint64_t>(), vm["memory"]["resident_pages"].get<uint64_t>())
          << setting;
      EXPECT_FALSE(doc["numa"]["vm_cpus"][vm["id"].get<size_t>()].empty()) << "sched_getcpu after each slice";
      const bool homed = std::string(setting) == "auto" || std::string(setting) == "node:0";
      EXPECT_EQ(vm["numa"]["home_node"].is_null(), !homed) << setting;
      if (host_nodes() == 1) {
        EXPECT_EQ(vm["numa"]["remote_mappings"], 0u);
      }
    }
  }
}

TEST(Numa, OneNodeChangesNothing) {
  if (host_nodes() != 1) GTEST_SKIP() << "a host of one node";
  const std::vector<std::string> args = {"run", "--vms", "2", "--mem", "32M", "--cmdline", "workload=memfill size=4M"};
  CliResult off, automatic;
  nlohmann::json off_doc = run_stats(with(args, {"--numa", "off"}), &off);
  nlohmann::json auto_doc = run_stats(with(args, {"--numa", "auto"}), &automatic);
  ASSERT_EQ(off.exit_code, 0) << off.err;
  ASSERT_EQ(automatic.exit_code, 0) << automatic.err;
  // The same lines (the VMs' interleaving aside) and every counter but the home node.
  auto sorted_lines = [](const std::string& out) {
    std::vector<std::string> lines;
    size_t p = 0;
    while (p < out.size()) {
      const size_t e = std::min(out.find('\n', p), out.size());
      lines.push_back(out.substr(p, e - p));
      p = e + 1;
    }
    std::sort(lines.begin(), lines.end());
    return lines;
  };
  EXPECT_EQ(sorted_lines(off.out), sorted_lines(automatic.out));
  for (nlohmann::json* doc : {&off_doc, &auto_doc}) {
    for (auto& vm : (*doc)["vms"]) vm.erase("numa");
  }
  EXPECT_EQ(off_doc["vms"], auto_doc["vms"]);
}

// On one node every VM is homed on node 0, so its budget is the total budget: the same
// balloon targets, the same run. The policy across nodes is in balloon_policy_test (and
// make test-numa).
TEST(Numa, OneNodesBudgetIsTheHostBudget) {
  if (host_nodes() != 1) GTEST_SKIP() << "a host of one node";
  const std::vector<std::string> args = {"run", "--vms", "2", "--mem", "64M", "--cmdline",
                                         "workload=memfill size=24M free=1 linger=150 balloon_report=0"};
  CliResult total, node;
  nlohmann::json total_doc = run_stats(with(args, {"--host-budget", "80M"}), &total);
  nlohmann::json node_doc = run_stats(with(args, {"--host-budget-node", "0:80M"}), &node);
  ASSERT_EQ(total.exit_code, 0) << total.err;
  ASSERT_EQ(node.exit_code, 0) << node.err;
  uint64_t held = 0;
  for (const auto& vm : node_doc["vms"]) {
    EXPECT_GT(vm["balloon"]["target_pages"].get<uint64_t>(), 0u);
    held += 64 * 256 - vm["balloon"]["target_pages"].get<uint64_t>();
  }
  EXPECT_LE(held, 80u * 256) << "the targets fit the node's budget";
  for (nlohmann::json* doc : {&total_doc, &node_doc}) {
    for (auto& vm : (*doc)["vms"]) vm.erase("numa");
  }
  EXPECT_EQ(total_doc["vms"], node_doc["vms"]);
}

TEST(Numa, BadNodesGetOneLineAndNonZeroExit) {
  const std::string missing = "node:" + std::to_string(host_nodes());
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"run", "--numa", missing}, "the host has no node " + std::to_string(host_nodes())},
      {{"run", "--numa", "node:1023"}, "the host has no node 1023"},
      {{"run", "--numa", "node:x"}, "--numa: 'node:x' is not auto, off, interleave or node:N"},
      {{"run", "--numa", "near"}, "is not auto, off, interleave or node:N"},
      {{"restore", "/nonexistent.snap", "--numa", "node:1023"}, "the host has no node 1023"},
      {{"run", "--vm-numa", "1:0"}, "--vm-numa 1:0: there is no vm1 (--vms 1)"},
      {{"run", "--vms", "2", "--vm-numa", "1:0", "--vm-numa", "1:0"}, "--vm-numa names vm1 twice"},
      {{"run", "--vm-numa", "0"}, "is not K:N"},
      {{"run", "--vm-numa", "0:" + std::to_string(host_nodes())}, "the host has no node"},
      {{"run", "--dedup-numa", "near"}, "--dedup-numa takes global or local"},
      {{"run", "--host-budget-node", std::to_string(host_nodes()) + ":64M"}, "the host has no node"},
      {{"run", "--host-budget-node", "0:1000T"}, "node 0 has only"},
      {{"run", "--host-budget-node", "0:64M", "--host-budget-node", "0:32M"}, "--host-budget-node names node 0 twice"},
      {{"run", "--host-budget-node", "0:64M", "--numa", "off"}, "--numa off gives VMs no home node to budget by"},
      {{"run", "--host-budget-node", "64M"}, "is not N:SIZE"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = run_densevm(args);
    EXPECT_NE(r.exit_code, 0) << args.back();
    EXPECT_LT(r.exit_code, 128) << "crashed: " << args.back();
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr was: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace densevm::testing
