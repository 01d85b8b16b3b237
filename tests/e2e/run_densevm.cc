#include "tests/e2e/run_densevm.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace densevm::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/densevm-e2e-" + std::to_string(::getpid()) + "-" + name;
}

nlohmann::json run_stats(std::vector<std::string> args, CliResult* result) {
  static int counter = 0;
  const std::string path = temp_path("stats" + std::to_string(counter++) + ".json");
  args.insert(args.end(), {"--stats", path});
  *result = run_densevm(args);
  std::ifstream in(path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  std::remove(path.c_str());
  return doc;
}

CliResult run_densevm(const std::vector<std::string>& args) {
  static int counter = 0;
  const std::string out_path = temp_path("out" + std::to_string(counter));
  const std::string err_path = temp_path("err" + std::to_string(counter++));
  std::vector<std::string> argv_s = {DENSEVM_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  const int rc = posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv_s[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

std::vector<std::string> with(std::vector<std::string> head, const std::vector<std::string>& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

std::string memfill_line(const std::string& out) {
  const size_t at = out.find("memfill ok ");
  return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
}

nlohmann::json without_host_facts(nlohmann::json stats) {
  auto strip = [](nlohmann::json& vm) {
    if (!vm.is_object()) return;
    vm.erase("vmm");
    if (!vm.contains("numa")) return;
    for (const char* k : {"frames_by_node", "pages_not_present", "remote_mappings", "remote_zero_mappings"}) {
      vm["numa"].erase(k);
    }
  };
  if (stats.is_array()) {
    for (nlohmann::json& vm : stats) strip(vm);
  } else {
    strip(stats);
  }
  return stats;
}

}  // namespace densevm::testing
