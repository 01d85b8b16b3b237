// End-to-end tests of `densevm run`: real guests booted by the real binary.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

nlohmann::json run_with_stats(const std::vector<std::string>& args, CliResult* result = nullptr) {
  CliResult r;
  nlohmann::json doc = run_stats(args, &r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(doc.is_object()) << "no stats document";
  if (result) *result = r;
  return doc;
}

TEST(Cli, HelloBootsTheBuiltInGuest) {
  const CliResult r = run_densevm({"run"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("hello from densevm guest"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

// `--stats -`: stdout is the JSON document alone (it pipes into jq); the guests' consoles
// go to stderr.
TEST(Cli, StatsToStdoutLeaveTheConsoleOnStderr) {
  const CliResult r = run_densevm({"run", "--vms", "2", "--stats", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.out;
  EXPECT_EQ(doc["vms"].size(), 2u);
  EXPECT_NE(r.err.find("[vm1] hello from densevm guest"), std::string::npos) << r.err;
}

TEST(Cli, StatsDocumentHasThePublishedFields) {
  CliResult r;
  const nlohmann::json doc = run_with_stats({"run", "--mem", "64M", "--mmu", "ept"}, &r);
  ASSERT_TRUE(doc.is_object());
  for (const char* k : {"rss_bytes", "peak_rss_bytes", "frames_resident", "wall_seconds"}) {
    EXPECT_TRUE(doc["host"].contains(k)) << k;
  }
  EXPECT_GT(doc["host"]["rss_bytes"].get<uint64_t>(), 0u);
  ASSERT_EQ(doc["vms"].size(), 1u);
  const auto& vm = doc["vms"][0];
  EXPECT_EQ(vm["id"], 0);
  EXPECT_EQ(vm["exit_code"], 0);
  EXPECT_GT(vm["instructions"].get<uint64_t>(), 1000u);
  EXPECT_EQ(vm["mmu"]["mode"], "ept");
  EXPECT_GT(vm["mmu"]["tlb_misses"].get<uint64_t>(), 0u);
  EXPECT_GT(vm["mmu"]["walk_refs"].get<uint64_t>(), vm["mmu"]["tlb_misses"].get<uint64_t>());
  EXPECT_TRUE(vm["mmu"].contains("invlpg"));
  EXPECT_GT(vm["mmu"]["cr3_loads"].get<uint64_t>(), 0u);
  EXPECT_EQ(vm["mmu"]["sync_faults"], 0u) << "no shadow work in ept mode";
  EXPECT_EQ(vm["memory"]["configured_bytes"], 64u << 20);
  EXPECT_GT(vm["memory"]["resident_pages"].get<uint64_t>(), 10u);
  EXPECT_LT(vm["memory"]["resident_pages"].get<uint64_t>(), (64u << 20) / 4096);
}

TEST(Cli, SeveralVmsArePrefixedAndAllExit) {
  const nlohmann::json doc = run_with_stats({"run", "--vms", "4", "--threads", "2", "--mem", "32M"});
  ASSERT_EQ(doc["vms"].size(), 4u);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(doc["vms"][k]["exit_code"], 0) << k;
  const CliResult r = run_densevm({"run", "--vms", "3", "--mem", "32M"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (int k = 0; k < 3; ++k) {
    EXPECT_NE(r.out.find("[vm" + std::to_string(k) + "] hello from densevm guest"), std::string::npos) << r.out;
  }
}

TEST(Cli, RunsAreDeterministic) {
  const nlohmann::json a = run_with_stats({"run", "--vms", "2", "--mem", "32M", "--cmdline", "workload=memfill size=2M"});
  const nlohmann::json b = run_with_stats({"run", "--vms", "2", "--mem", "32M", "--cmdline", "workload=memfill size=2M", "--threads", "1"});
  for (int k = 0; k < 2; ++k) {
    EXPECT_EQ(a["vms"][k]["instructions"], b["vms"][k]["instructions"]);
    EXPECT_EQ(a["vms"][k]["mmu"], b["vms"][k]["mmu"]);
    EXPECT_EQ(a["vms"][k]["memory"], b["vms"][k]["memory"]);
    EXPECT_EQ(a["vms"][k]["cpu"], b["vms"][k]["cpu"]);
  }
}

// Issue 15: a ring-3 program executing a privileged instruction, or one the vCPU does not
// implement, gets the fault a CPU gives it (the guest kernel reports it and exits 3); the VM
// is never stopped for it, and the unimplemented one is counted.
TEST(Cli, Ring3InstructionsNeverStopTheVm) {
  struct Case {
    const char* kind;
    const char* fault;
    uint64_t unimplemented;
  };
  for (const Case& c : {Case{"wbinvd", "fatal: user fault #GP (vector 13)", 0},
                        Case{"avx", "fatal: user fault #UD (vector 6)", 1}}) {
    SCOPED_TRACE(c.kind);
    CliResult r;
    const nlohmann::json doc =
        run_stats({"run", "--mem", "32M", "--cmdline", std::string("workload=fault kind=") + c.kind}, &r);
    EXPECT_EQ(r.exit_code, 3) << r.err;
    EXPECT_NE(r.out.find(c.fault), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "densevm: vm0 exited with status 3\n") << "exited, not stopped";
    ASSERT_TRUE(doc.is_object());
    const auto& cpu = doc["vms"][0]["cpu"];
    EXPECT_EQ(doc["vms"][0]["state"], "exited");
    EXPECT_EQ(cpu["unimplemented_ud"], c.unimplemented);
    EXPECT_EQ(cpu["unimplemented_first"],
              c.unimplemented ? nlohmann::json::array({"vmovaps"}) : nlohmann::json::array());
  }
}

struct BadInput {
  std::vector<std::string> args;
  std::string message;
};

TEST(Cli, BadInputGetsOneLineAndNonZeroExit) {
  const std::string text_file = temp_path("not-elf");
  std::ofstream(text_file) << "this is not an ELF file\n";
  const std::string elf32_file = temp_path("elf32");
  {
    std::string header(64, '\0');
    header.replace(0, 7, "\x7f" "ELF\x01\x01\x01");  // ELFCLASS32, little-endian
    std::ofstream(elf32_file, std::ios::binary) << header;
  }
  const std::vector<BadInput> cases = {
      {{"run", "/nonexistent/guest.elf"}, "cannot open /nonexistent/guest.elf"},
      {{"run", text_file}, "not an ELF file"},
      {{"run", elf32_file}, "32-bit ELF file"},
      {{"run", "--vms", "0"}, "--vms takes a whole number"},
      {{"run", "--mem", "lots"}, "not a size"},
      {{"run", "--mem", "2M"}, "MiB of RAM to boot"},
      {{"run", "--frobnicate"}, "unknown option '--frobnicate'"},
      {{"run", "--mmu", "fast"}, "--mmu takes ept, shadow or auto"},
      {{"frob"}, "unknown command 'frob'"},
  };
  for (const BadInput& c : cases) {
    const CliResult r = run_densevm(c.args);
    EXPECT_NE(r.exit_code, 0) << c.message;
    EXPECT_LT(r.exit_code, 128) << "crashed: " << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "stderr was: " << r.err;
    EXPECT_LE(count_lines(r.err), 2) << r.err;
  }
  std::remove(text_file.c_str());
  std::remove(elf32_file.c_str());
}

TEST(Cli, UnknownWorkloadExitsNonZero) {
  const CliResult r = run_densevm({"run", "--cmdline", "workload=frobnicate"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.out.find("unknown workload: frobnicate"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("vm0 exited with status 2"), std::string::npos) << r.err;
}

TEST(Cli, StatsPathThatCannotBeWrittenFailsCleanly) {
  const CliResult r = run_densevm({"run", "--stats", "/nonexistent-dir/x.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot write stats to /nonexistent-dir/x.json"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace densevm::testing
