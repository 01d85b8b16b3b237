// Boot tests for every guest workload on our vCPU.
#include <gtest/gtest.h>

#include "tests/e2e/run_densevm.h"

namespace densevm::testing {
namespace {

struct Workload {
  const char* cmdline;
  const char* expect;  // in the guest's console output
};

class WorkloadBoot : public ::testing::TestWithParam<Workload> {};

// Every workload, in every MMU mode: the guest's console output must be identical.
TEST_P(WorkloadBoot, RunsToCompletionWithTheSameOutputInEveryMmuMode) {
  const Workload& w = GetParam();
  std::string reference;
  for (const char* mode : {"ept", "shadow", "auto"}) {
    const CliResult r = run_densevm({"run", "--mem", "128M", "--mmu", mode, "--cmdline", w.cmdline});
    EXPECT_EQ(r.exit_code, 0) << mode << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find(w.expect), std::string::npos) << mode << "\n" << r.out << r.err;
    if (reference.empty()) reference = r.out;
    EXPECT_EQ(r.out, reference) << "--mmu " << mode << " changed what the guest saw";
  }
}

INSTANTIATE_TEST_SUITE_P(
    All, WorkloadBoot,
    ::testing::Values(Workload{"workload=hello", "hello from densevm guest"},
                      Workload{"workload=memfill size=8M hold=2 free=1", "memfill ok"},
                      Workload{"workload=ptchurn rounds=16", "ptchurn ok"},
                      Workload{"workload=ptrandom steps=1500", "ptrandom ok"},
                      Workload{"workload=tlbwalk size=4M steps=200000", "tlbwalk ok"},
                      Workload{"workload=idle ticks=20", "idle ok"}));

// The shadow checker audits every live shadow entry after each slice of real guests that
// churn their page tables (process exits free table pages that later hold data).
TEST(WorkloadBoot, ShadowTablesMatchTheGuestThroughoutRealWorkloads) {
  for (const char* mode : {"shadow", "auto"}) {
    for (const char* w : {"workload=ptrandom steps=1500", "workload=ptchurn rounds=16",
                          "workload=memfill size=8M free=1",
                          "workload=tlbwalk size=4M steps=100000"}) {
      const CliResult r = run_densevm({"run", "--mem", "64M", "--mmu", mode, "--check-mmu",
                                       "--slice", "200000", "--cmdline", w});
      EXPECT_EQ(r.exit_code, 0) << mode << " " << w << "\n" << r.err;
      EXPECT_EQ(r.err.find("shadow checker"), std::string::npos) << r.err;
    }
  }
}

TEST(WorkloadBoot, MemfillContentIsIdenticalAcrossVmsWithTheSameSeed) {
  const CliResult r = run_densevm({"run", "--vms", "2", "--mem", "64M", "--cmdline",
                                   "workload=memfill size=4M seed=3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto line = [&](int vm) {
    const std::string tag = "[vm" + std::to_string(vm) + "] memfill ok ";
    const size_t at = r.out.find(tag);
    return at == std::string::npos ? std::string() : r.out.substr(at + tag.size(), 16);
  };
  EXPECT_FALSE(line(0).empty()) << r.out;
  EXPECT_EQ(line(0), line(1)) << "same seed and image: same checksum";
}

}  // namespace
}  // namespace densevm::testing
