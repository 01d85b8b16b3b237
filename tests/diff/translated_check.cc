#include "tests/diff/translated_check.h"

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "tests/diff/disasm.h"
#include "tests/diff/fx_compare.h"
#include "tests/support/flat_vm.h"
#include "vmm/cpu/jit/jit.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::diff {
namespace {

using testing::FlatVm;
using testing::RunOutcome;

// UD2 after the snippet: the translated run ends there with #UD at the interpreter's stop.
constexpr uint8_t kUd2[] = {0x0f, 0x0b};
// Every other case runs in these slices (then the rest), the others in one go: a block
// runs only if it fits what is left of the budget.
constexpr uint64_t kSlices[] = {1, 2, 3, 5, 7, 64};

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string regs_diff(const TraceStep& want, const TraceStep& got) {
  std::string d;
  for (unsigned i = 0; i < kGprCount; ++i) {
    if (want.gpr[i] != got.gpr[i]) {
      d += "    gpr " + std::to_string(i) + ": interpreter " + hex(want.gpr[i]) + "  translated " +
           hex(got.gpr[i]) + "\n";
    }
  }
  if (want.rflags != got.rflags) {
    d += "    rflags: interpreter " + hex(want.rflags) + "  translated " + hex(got.rflags) + "\n";
  }
  if (want.rip != got.rip) {
    d += "    rip: interpreter " + hex(want.rip) + "  translated " + hex(got.rip) + "\n";
  }
  return d;
}

TraceStep step_of(FlatVm& vm) {
  TraceStep t;
  for (unsigned i = 0; i < kGprCount; ++i) t.gpr[i] = vm.gpr(i);
  t.rflags = vm.rflags();
  t.rip = vm.rip();
  return t;
}

struct JitVm {
  std::unique_ptr<FlatVm> vm;
  std::vector<uint8_t> data;
};

FlatVm& jit_vm(JitVm& cache) {
  if (!cache.vm) {
    cache.vm = std::make_unique<FlatVm>(3);
    cache.vm->map(kCodeBase, kCodeSize, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
    cache.vm->map(kDataBase, kDataSize, FlatVm::kRead | FlatVm::kWrite);
    cache.data.assign(kDataSize, 0);
    std::string error;
    if (!cache.vm->vcpu().enable_translation({.hot_threshold = 0}, &error)) {
      std::fprintf(stderr, "translator unavailable: %s\n", error.c_str());
      std::abort();
    }
  }
  return *cache.vm;
}

// Empty if the translated run of `c` is the interpreter's `ref`.
std::string compare(const DiffCase& c, const VmResult& ref, JitVm& cache, bool sliced,
                    TranslatedReport& report) {
  FlatVm& vm = jit_vm(cache);
  load_case(vm, c, kUd2, cache.data);
  cpu::Vcpu& v = vm.vcpu();
  const uint64_t start = v.counters().retired;
  const cpu::jit::Stats before = v.translation_stats();
  const bool limited = ref.outcome.kind == RunOutcome::Kind::kInstructionLimit;
  const uint64_t limit = limited ? ref.outcome.instructions : kMaxInstructions + 1;
  std::string d;
  cpu::RunResult r;
  for (size_t slice = 0;; ++slice) {
    const uint64_t done = v.counters().retired - start;
    const bool small = sliced && slice < std::size(kSlices);
    const uint64_t budget = std::min(small ? kSlices[slice] : limit, limit - done);
    r = v.run(budget);
    const uint64_t now = v.counters().retired - start;
    if (r.reason != cpu::StopReason::kBudget || now >= limit) break;
    if (now < ref.trace.size()) {
      const std::string at = regs_diff(ref.trace[now], step_of(vm));
      if (!at.empty()) {
        d += "    after " + std::to_string(now) + " instructions:\n" + at;
        break;
      }
    }
  }
  report.translated += v.translation_stats().retired_translated - before.retired_translated;
  report.entries += v.translation_stats().entries - before.entries;
  const uint64_t retired = v.counters().retired - start;
  if (retired != ref.outcome.instructions) {
    d += "    retired: interpreter " + std::to_string(ref.outcome.instructions) + "  translated " +
         std::to_string(retired) + "\n";
  }
  const uint64_t stop = kCodeBase + c.code.size();
  const cpu::PendingException& e = v.last_exception();
  switch (ref.outcome.kind) {
    case RunOutcome::Kind::kReachedStop:
      if (r.reason != cpu::StopReason::kException || e.vector != 6 || vm.rip() != stop) {
        d += "    translated run did not end at the snippet's end\n";
      }
      break;
    case RunOutcome::Kind::kException:
      if (r.reason != cpu::StopReason::kException || e.vector != ref.outcome.vector ||
          e.error_code != ref.outcome.error_code || v.state().cr2 != ref.outcome.cr2) {
        d += "    exception: interpreter vector " + std::to_string(ref.outcome.vector) +
             " error " + hex(ref.outcome.error_code) + " cr2 " + hex(ref.outcome.cr2) +
             "  translated vector " + std::to_string(e.vector) + " error " +
             hex(e.error_code) + " cr2 " + hex(v.state().cr2) + "\n";
      }
      break;
    case RunOutcome::Kind::kInstructionLimit:
      if (r.reason != cpu::StopReason::kBudget) d += "    translated run stopped early\n";
      break;
    case RunOutcome::Kind::kStopped:
      if (v.stop_message() != ref.outcome.message) {
        d += "    stop: interpreter '" + ref.outcome.message + "'  translated '" +
             v.stop_message() + "'\n";
      }
      break;
  }
  d += regs_diff({ref.regs.gpr, ref.regs.rflags, ref.rip}, step_of(vm));
  const FxImage fx = vcpu_fx_image(v.state().fpu);
  if (fx != ref.regs.fx) d += "    x87/SSE state differs\n";
  std::vector<uint8_t> data(kDataSize);
  vm.read(kDataBase, data.data(), kDataSize);
  for (uint32_t off = 0; off < kDataSize; off += 8) {
    if (std::memcmp(&data[off], &ref.data[off], 8) == 0) continue;
    uint64_t a = 0, b = 0;
    std::memcpy(&a, &ref.data[off], 8);
    std::memcpy(&b, &data[off], 8);
    d += "    data[" + hex(kDataBase + off) + "]: interpreter " + hex(a) + "  translated " + hex(b) + "\n";
    break;
  }
  if (ref.outcome.kind == RunOutcome::Kind::kReachedStop && d.empty()) {
    cache.data = data;
  } else {
    cache.vm.reset();
  }
  return d;
}

}  // namespace

TranslatedReport run_group_translated(std::span<const DiffCase> cases) {
  VmCache interp;
  JitVm jit;
  TranslatedReport report;
  GroupReport& r = report.group;
  bool sliced = false;
  for (const DiffCase& c : cases) {
    sliced = !sliced;
    GroupReport::LabelStats& st = r.by_label[c.label];
    ++st.cases;
    ++r.cases;
    const VmResult ref = run_in_vm_cached(c, interp);
    report.instructions += ref.outcome.instructions;
    const std::string d = compare(c, ref, jit, sliced, report);
    if (d.empty()) continue;
    ++st.failed;
    ++r.failed;
    ++st.reasons["translated differs"];
    if (st.first_failure.empty()) {
      st.first_failure = "[" + c.label + "]\n  code:\n" + disassemble(c.code) +
                         "  differences (interpreter against translated):\n" + d;
    }
  }
  return report;
}

}  // namespace densevm::diff
