#include "tests/diff/diff_check.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "tests/diff/disasm.h"
#include "tests/diff/fx_compare.h"
#include "tests/support/flat_vm.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::diff {
namespace {

using testing::FlatVm;
using testing::RunOutcome;

constexpr const char* kGprNames[kGprCount] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp",
                                              "rsi", "rdi", "r8",  "r9",  "r10", "r11",
                                              "r12", "r13", "r14", "r15"};

CpuRegs registers_of(FlatVm& vm) {
  CpuRegs r;
  for (unsigned i = 0; i < kGprCount; ++i) r.gpr[i] = vm.gpr(i);
  r.rflags = vm.rflags();
  r.fx = vcpu_fx_image(vm.vcpu().state().fpu);
  return r;
}

TraceStep trace_step(FlatVm& vm) {
  TraceStep t;
  for (unsigned i = 0; i < kGprCount; ++i) t.gpr[i] = vm.gpr(i);
  t.rflags = vm.rflags();
  t.rip = vm.rip();
  return t;
}

}  // namespace

void load_case(FlatVm& vm, const DiffCase& c, std::span<const uint8_t> terminator,
               std::vector<uint8_t>& cache_data) {
  std::vector<uint8_t> code = c.code;
  code.insert(code.end(), terminator.begin(), terminator.end());
  vm.write(kCodeBase, code.data(), code.size());
  std::vector<uint8_t> data(kDataSize);
  initial_data(c, std::span<uint8_t, kDataSize>(data.data(), kDataSize));
  for (uint64_t page = 0; page < kDataSize; page += 4096) {
    if (std::memcmp(&data[page], &cache_data[page], 4096) != 0) {
      vm.write(kDataBase + page, &data[page], 4096);
    }
  }
  cache_data = std::move(data);
  for (unsigned i = 0; i < kGprCount; ++i) vm.set_gpr(i, c.in.gpr[i]);
  vm.set_rflags(c.in.rflags);
  vm.vcpu().state().fpu = fpu_from_image(c.in.fx);
  vm.set_rip(kCodeBase);
}

// Runs the case one instruction at a time, following the taint of undefined values.
VmResult run_in_vm_cached(const DiffCase& c, VmCache& cache) {
  if (!cache.vm) {
    cache.vm = std::make_unique<FlatVm>(3);
    cache.vm->map(kCodeBase, kCodeSize, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
    cache.vm->map(kDataBase, kDataSize, FlatVm::kRead | FlatVm::kWrite);
    cache.data.assign(kDataSize, 0);
  }
  FlatVm& vm = *cache.vm;
  const std::array<uint8_t, 14> exit = native_exit_jump();
  load_case(vm, c, exit, cache.data);
  VmResult r;
  r.trace.push_back(trace_step(vm));
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const uint64_t stop = kCodeBase + c.code.size();
  uint64_t retired = 0;
  const uint64_t unimplemented_before = vm.vcpu().counters().unimplemented_ud;
  while (true) {
    const CpuRegs before = registers_of(vm);
    const uint64_t rip = vm.rip();
    r.outcome = vm.run_until(stop, 1);
    retired += r.outcome.instructions;
    if (r.outcome.instructions == 1) r.trace.push_back(trace_step(vm));
    if (r.outcome.instructions == 1) {
      ZydisDecodedInstruction insn;
      ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
      const bool inside = rip >= kCodeBase && rip < stop;
      if (!inside || !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, &c.code[rip - kCodeBase],
                                                          stop - rip, &insn, ops))) {
        if (r.taint.control.empty() && r.taint.any()) {
          r.taint.control = "an undefined value reached code outside the snippet";
        }
      } else {
        propagate(r.taint, insn, ops, before, registers_of(vm), rip);
      }
    }
    if (r.outcome.kind != RunOutcome::Kind::kInstructionLimit) break;
    if (retired >= kMaxInstructions) break;
  }
  r.outcome.instructions = retired;
  r.unimplemented = vm.vcpu().counters().unimplemented_ud != unimplemented_before;
  r.regs = registers_of(vm);
  r.rip = vm.rip();
  vm.read(kDataBase, r.data.data(), kDataSize);
  if (r.outcome.kind == RunOutcome::Kind::kReachedStop) {
    cache.data = r.data;
  } else {
    cache.vm.reset();
  }
  return r;
}

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe(const RunOutcome& o) {
  switch (o.kind) {
    case RunOutcome::Kind::kReachedStop: return "reached the end";
    case RunOutcome::Kind::kStopped: return "vCPU stopped: " + o.message;
    case RunOutcome::Kind::kInstructionLimit: return "instruction limit";
    case RunOutcome::Kind::kException: break;
  }
  return "exception vector " + std::to_string(o.vector) + " error code " + hex(o.error_code) +
         " cr2 " + hex(o.cr2);
}

std::string inputs(const DiffCase& c) {
  std::string s = "  input:";
  for (unsigned i = 0; i < kGprCount; ++i) {
    s += std::string(i % 4 == 0 ? "\n   " : "") + " " + kGprNames[i] + "=" + hex(c.in.gpr[i]);
  }
  s += "\n    rflags=" + hex(c.in.rflags) + " (" + flag_names(c.in.rflags) + ")";
  s += fx_inputs(c.in.fx);
  for (size_t i = 0; i < c.data.size(); ++i) {
    if (i == 8) {
      s += "\n    (" + std::to_string(c.data.size() - 8) + " more data patches)";
      break;
    }
    const DataPatch& p = c.data[i];
    uint64_t v = 0;
    std::memcpy(&v, p.bytes.data(), p.bytes.size() > 8 ? 8 : p.bytes.size());
    s += "\n    data[" + hex(kDataBase + p.offset) + "] (" + std::to_string(p.bytes.size()) +
         " bytes) = " + hex(v);
  }
  return s + "\n";
}

// Differences in registers, compared flags, rip (on exceptions) and data.
std::string state_diff(const DiffCase& c, const NativeOutcome& n, const VmResult& v,
                       bool exception) {
  std::string d;
  for (unsigned i = 0; i < kGprCount; ++i) {
    if (c.undefined_gprs >> i & 1) continue;
    const uint64_t defined = ~v.taint.gpr[i];
    if ((n.regs.gpr[i] ^ v.regs.gpr[i]) & defined) {
      d += std::string("    ") + kGprNames[i] + ": native " + hex(n.regs.gpr[i]) + "  vm " +
           hex(v.regs.gpr[i]) + (defined == ~uint64_t{0} ? "" : "  [compared bits " + hex(defined) + "]") + "\n";
    }
  }
  const uint64_t mask = compared_flags(c, v.taint);
  const uint64_t flag_diff = (n.regs.rflags ^ v.regs.rflags) & mask;
  if (flag_diff) {
    d += "    rflags: native " + hex(n.regs.rflags) + " (" + flag_names(n.regs.rflags & mask) +
         ")  vm " + hex(v.regs.rflags) + " (" + flag_names(v.regs.rflags & mask) +
         ")  differ in " + flag_names(flag_diff) + "  [compared: " + flag_names(mask) + "]\n";
  }
  if (exception && n.rip != v.rip) d += "    rip: native " + hex(n.rip) + "  vm " + hex(v.rip) + "\n";
  d += fx_diff(c, n.regs.fx, v.regs.fx);
  std::vector<uint8_t> expected(kDataSize);
  initial_data(c, std::span<uint8_t, kDataSize>(expected.data(), kDataSize));
  for (const DataChunk& ch : n.changed) {
    std::memcpy(&expected[ch.offset], ch.bytes.data(), kChunkSize);
  }
  for (const auto& [offset, length] : c.undefined_data) {  // whatever either side wrote
    if (offset + length <= kDataSize) std::memcpy(&expected[offset], &v.data[offset], length);
  }
  int shown = 0;
  for (uint32_t off = 0; off < kDataSize; off += 8) {
    bool same = true;
    for (uint32_t i = off; i < off + 8; ++i) {
      same = same && ((expected[i] ^ v.data[i]) & ~v.taint.data[i]) == 0;
    }
    if (same) continue;
    if (++shown > 6) {
      d += "    (more data differences)\n";
      break;
    }
    uint64_t a = 0, b = 0;
    std::memcpy(&a, &expected[off], 8);
    std::memcpy(&b, &v.data[off], 8);
    d += "    data[" + hex(kDataBase + off) + "]: native " + hex(a) + "  vm " + hex(b) + "\n";
  }
  return d;
}

std::string outcome_diff(const DiffCase& c, const NativeOutcome& n, const VmResult& v) {
  using NK = NativeOutcome::Kind;
  using VK = RunOutcome::Kind;
  if (n.kind != NK::kCompleted && n.kind != NK::kException) {
    return "    native side did not finish (" + diff::describe(n) + "): test generator problem\n";
  }
  if (v.outcome.kind == VK::kStopped || v.outcome.kind == VK::kInstructionLimit) {
    return "    vm " + describe(v.outcome) + " at " + instruction_at(c, v.rip) + " (rip " +
           hex(v.rip) + ")\n";
  }
  if (v.unimplemented) {
    return "    vm unimplemented instruction (#UD) at " + instruction_at(c, v.rip) + " (rip " +
           hex(v.rip) + ")\n";
  }
  if (!v.taint.control.empty()) {
    return "    not comparable: " + v.taint.control + ": test generator problem\n";
  }
  const bool native_exception = n.kind == NK::kException;
  if (native_exception != (v.outcome.kind == VK::kException)) return "    outcome differs\n";
  if (!native_exception) return state_diff(c, n, v, false);
  std::string d;
  if (n.vector != v.outcome.vector) {
    return "    vector: native " + std::to_string(n.vector) + "  vm " +
           std::to_string(v.outcome.vector) + "\n";
  }
  if (n.vector >= 10 && n.vector <= 13 && n.error_code != v.outcome.error_code) {
    d += "    error code: native " + hex(n.error_code) + "  vm " + hex(v.outcome.error_code) + "\n";
  }
  if (n.vector == 14) {
    if (n.fault_address != v.outcome.cr2) {
      d += "    cr2: native " + hex(n.fault_address) + "  vm " + hex(v.outcome.cr2) + "\n";
    }
    if ((n.error_code ^ v.outcome.error_code) & 0x1F) {  // P W U RSVD I
      d += "    #PF error code: native " + hex(n.error_code) + "  vm " +
           hex(v.outcome.error_code) + "\n";
    }
  }
  return d + state_diff(c, n, v, true);
}

std::string check_case_in(const DiffCase& c, const NativeOutcome& native, VmCache& cache) {
  const VmResult vm = run_in_vm_cached(c, cache);
  const std::string diff = outcome_diff(c, native, vm);
  if (diff.empty()) return {};
  return "[" + c.label + "]\n  code:\n" + disassemble(c.code) + inputs(c) +
         "  native: " + diff::describe(native) + "\n  vm:     " + describe(vm.outcome) +
         "\n  differences:\n" + diff;
}

}  // namespace

uint64_t compared_flags(const DiffCase& c, const TaintState& t) {
  const uint64_t undefined = (t.flags & ~c.defined_flags) | c.undefined_flags;
  return kComparedFlags & ~undefined;
}

VmResult run_in_vm(const DiffCase& c) {
  VmCache fresh;
  return run_in_vm_cached(c, fresh);
}

std::string check_case(const DiffCase& c, const NativeOutcome& native) {
  VmCache fresh;
  return check_case_in(c, native, fresh);
}

std::string failure_reason(const std::string& report) {
  const size_t start = report.find("  differences:\n");
  if (start == std::string::npos) return "?";
  std::string reason;
  size_t pos = start + 16;
  while (pos < report.size()) {
    const size_t end = report.find('\n', pos);
    std::string line = report.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end == std::string::npos ? report.size() : end + 1;
    line.erase(0, line.find_first_not_of(' '));
    std::string item;
    if (line.rfind("vm unimplemented instruction (#UD) at ", 0) == 0) {
      // "vm unimplemented instruction (#UD) at lock btc word ptr [..], 0x00 (rip ...)"
      // -> "unimplemented 'lock btc'"
      std::string text = line.substr(38, line.rfind(" (rip") - 38);
      size_t stop = text.find(' ');
      const std::string first = text.substr(0, stop);
      if (first == "rep" || first == "repe" || first == "repne" || first == "lock") {
        stop = text.find(' ', stop + 1);
      }
      item = "unimplemented '" + text.substr(0, stop) + "'";
    } else if (line.rfind("rflags:", 0) == 0) {
      const size_t from = line.find("differ in ") + 10;
      item = line.substr(from, line.find("  [") - from);
    } else if (line.rfind("data[", 0) == 0) {
      item = "data";
    } else if (line.rfind("vector:", 0) == 0 || line.rfind("outcome", 0) == 0 ||
               line.rfind("native side", 0) == 0 || line.rfind("vm ", 0) == 0 ||
               line.rfind("not comparable", 0) == 0) {
      item = line;
    } else {
      item = line.substr(0, line.find(':'));
    }
    if (item.empty() || item.starts_with("(more") || reason.find(item) != std::string::npos) continue;
    reason += (reason.empty() ? "" : " ") + item;
  }
  return reason;
}

std::string GroupReport::summary(size_t max_details) const {
  std::string s = std::to_string(failed) + " of " + std::to_string(cases) + " cases fail\n";
  for (const auto& [label, st] : by_label) {
    if (st.failed == 0) continue;
    s += "  FAIL " + label + ": " + std::to_string(st.failed) + "/" + std::to_string(st.cases) + " [";
    const char* sep = "";
    for (const auto& [reason, count] : st.reasons) {
      s += sep + reason + " x" + std::to_string(count);
      sep = "; ";
    }
    s += "]\n";
  }
  size_t details = 0;
  for (const auto& [label, st] : by_label) {
    if (st.failed == 0) continue;
    if (details++ == max_details) break;
    s += "\n" + st.first_failure;
  }
  return s;
}

GroupReport run_group(std::span<const DiffCase> cases) {
  const std::vector<NativeOutcome> native = run_native(cases);
  VmCache cache;
  GroupReport r;
  for (size_t i = 0; i < cases.size(); ++i) {
    GroupReport::LabelStats& st = r.by_label[cases[i].label];
    ++st.cases;
    ++r.cases;
    std::string failure = check_case_in(cases[i], native[i], cache);
    if (failure.empty()) continue;
    ++st.failed;
    ++r.failed;
    ++st.reasons[failure_reason(failure)];
    if (st.first_failure.empty()) st.first_failure = std::move(failure);
  }
  return r;
}

}  // namespace densevm::diff
