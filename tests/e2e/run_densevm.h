// Runs the densevm binary as a child process and captures what a user would see.
//
//   CliResult r = run_densevm({"run", "--vms", "2"});
//   EXPECT_EQ(r.exit_code, 0);
//   EXPECT_NE(r.out.find("[vm1] "), std::string::npos);
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace densevm::testing {

struct CliResult {
  int exit_code = -1;  // 128 + signal if killed by one
  std::string out;
  std::string err;
};

[[nodiscard]] CliResult run_densevm(const std::vector<std::string>& args);
[[nodiscard]] std::string temp_path(const std::string& name);

// Runs densevm with `--stats` to a temporary file and returns the parsed document (a
// discarded value if the file is missing or not JSON); the run itself goes to *result.
[[nodiscard]] nlohmann::json run_stats(std::vector<std::string> args, CliResult* result);

// head followed by tail: a command line built from shared parts.
[[nodiscard]] std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail);
// The `memfill ok ...` line of a console output (without a [vmK] prefix), or "".
[[nodiscard]] std::string memfill_line(const std::string& out);

// A VM's stats object (or vms[], each of them) without what the host kernel says of our frames
// (`numa.frames_by_node`, `pages_not_present`, `remote_mappings`, `remote_zero_mappings`:
// whether the kernel has a page for a frame yet, and on which node, is the host's business and
// differs between two runs of the same guest), nor the VMM's own memory for it (`vmm`: its
// decoded pages and translations depend on --cpu). What is left repeats bit for bit.
[[nodiscard]] nlohmann::json without_host_facts(nlohmann::json stats);

}  // namespace densevm::testing
