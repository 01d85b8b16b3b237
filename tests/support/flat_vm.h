// FlatVm: a minimal long-mode machine for instruction-level tests.
//
// It owns guest memory and one vCPU whose page tables identity-map the regions given to
// map(), so guest virtual == guest physical for every mapped byte. Differential tests run
// the same bytes here and natively and compare registers, flags and memory.
//
//   FlatVm vm;
//   vm.map(0x10000000, 0x10000, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
//   vm.write(0x10000000, code.data(), code.size());
//   vm.set_rip(0x10000000);
//   RunOutcome out = vm.run_until(0x10000000 + code.size(), 1000);
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace densevm::cpu {
class Vcpu;
}  // namespace densevm::cpu

namespace densevm::testing {

// One OUT the guest did, in order (set_port_input() answers the INs).
struct PortWrite {
  uint16_t port = 0;
  unsigned size = 0;
  uint32_t value = 0;
};

struct RunOutcome {
  enum class Kind { kReachedStop, kException, kStopped, kInstructionLimit };
  Kind kind = Kind::kReachedStop;
  uint8_t vector = 0;         // kException: the exception vector (#DE=0, #UD=6, #GP=13, #PF=14)
  uint64_t error_code = 0;    // kException: error code when the vector has one
  uint64_t cr2 = 0;           // kException with #PF: faulting address
  std::string message;        // kStopped: why the vCPU stopped (e.g. a triple fault)
  uint64_t instructions = 0;  // retired instructions
};

class FlatVm {
 public:
  static constexpr unsigned kRead = 1, kWrite = 2, kExec = 4;

  // cpl: privilege level the code runs at (3 = user, 0 = kernel).
  explicit FlatVm(unsigned cpl = 3);
  ~FlatVm();
  FlatVm(const FlatVm&) = delete;
  FlatVm& operator=(const FlatVm&) = delete;

  // Back to the state the constructor left, for the next of many runs without the cost of a
  // new VM (the fuzz drivers): every page unmapped (its buffer kept for later map()s), the
  // vCPU's state, counters, soft TLB, decoded instructions and translations as new (the
  // translator stays enabled, its cache emptied; translation_stats() keeps counting), no
  // port inputs or writes.
  void reset();

  // Maps [gva, gva+size) identity, page-granular; size rounded up to 4 KiB. Memory reads zero.
  void map(uint64_t gva, uint64_t size, unsigned perms);
  void write(uint64_t gva, const void* data, size_t size);
  void read(uint64_t gva, void* data, size_t size) const;

  // General-purpose registers by x86 encoding: 0=rax 1=rcx 2=rdx 3=rbx 4=rsp 5=rbp 6=rsi
  // 7=rdi 8..15=r8..r15.
  void set_gpr(unsigned index, uint64_t value);
  [[nodiscard]] uint64_t gpr(unsigned index) const;
  void set_rflags(uint64_t value);
  [[nodiscard]] uint64_t rflags() const;
  void set_rip(uint64_t value);
  [[nodiscard]] uint64_t rip() const;
  void set_fs_base(uint64_t value);
  void set_gs_base(uint64_t value);

  // Runs until RIP == stop_rip (before executing it), an exception would be delivered,
  // the vCPU stops, or max_instructions retire. Exceptions are reported, not delivered
  // (unless vcpu().set_deliver_exceptions(true); then a halted handler reports "halted").
  RunOutcome run_until(uint64_t stop_rip, uint64_t max_instructions);
  // Writes `code` at `gva`, sets RIP there and runs it to its end: the instruction tests' run.
  RunOutcome run_code(uint64_t gva, const std::vector<uint8_t>& code, uint64_t max_instructions);

  // System-level tests: the vCPU itself (CpuState, set_deliver_exceptions, set_cpl,
  // counters), and the I/O ports. A port without an input reads all ones.
  [[nodiscard]] cpu::Vcpu& vcpu();
  void set_port_input(uint16_t port, uint32_t value);
  [[nodiscard]] const std::vector<PortWrite>& port_writes() const;
  // Runs at full speed (no per-instruction stop check) until HLT, an exception, a stop or
  // max_instructions; for benchmarks. HLT reports kStopped with message "halted".
  RunOutcome run_fast(uint64_t max_instructions);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace densevm::testing
