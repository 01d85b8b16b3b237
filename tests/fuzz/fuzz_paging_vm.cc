// Fuzz target (LLVMFuzzerTestOneInput): an instruction stream run through hostile guest
// page tables, on the VM's real MMU (HybridMmu: shadow, nested or auto) over real guest
// memory, under the SkippingKernel so the code keeps running through its faults.
//
// Input: byte 0 picks the MMU mode (bits 0-1), the CPL (bit 2: ring 0, else ring 3) and how
// many table edits follow (bits 5-7); each edit is 10 bytes (a table, a slot, an 8-byte
// value) and writes one entry of the page tables mapping code, data, stacks and kernel: a raw
// value, a link to another table (loops, self-maps), a frame outside RAM or in device space
// (MMIO, the APIC, above MAXPHYADDR), or the old entry with its flags changed. The rest is
// the code, run at 0x400000.
//
// Findings abort: a crash, a hang or a sanitizer report, a shadow entry that disagrees with a
// fresh walk of the guest's tables or reaches outside the VM's frames (check_shadow), and a
// VM stop that is not a triple fault (or a delivery that never lets an instruction retire):
// page tables and code outside RAM read all-ones and fault (vmm/cpu/UNDEFINED.md).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "mmu/hybrid_mmu.h"
#include "mmu/shadow_checker.h"
#include "mmu/testing/test_guest.h"
#include "tests/fuzz/fuzz_stats.h"
#include "tests/fuzz/skipping_kernel.h"
#include "tests/support/null_bus.h"
#include "vmm/cpu/vcpu.h"

namespace {

using densevm::Gpa;
using densevm::testing::fuzz_stats;
using densevm::testing::SkippingKernel;
using densevm::testing::SkippingRun;
using densevm::testing::TestGuest;
using namespace densevm::testing;  // NOLINT: page-table flag vocabulary (kP, kW, ...)

constexpr uint64_t kCode = 0x400000, kData = 0x600000, kUserStack = 0x7f0000;
constexpr uint64_t kKernel = 0xffff'8000'0000'0000, kKernelStack = kKernel + 0x10000;
constexpr uint64_t kMaxInstructions = 2000;
constexpr size_t kEditBytes = 10, kMaxCode = 4096;

const SkippingKernel kSkipper{.base = kKernel,
                              .stack_top = kKernelStack + 0x2000,
                              .df_stack_top = kKernelStack + 0x3000};

// Device space and memory a page table may point at: nothing of it is this VM's RAM.
constexpr uint64_t kOutside[] = {0xfee0'0000, 0xd000'0000, TestGuest::kRamBytes,
                                 uint64_t{1} << 40, uint64_t{1} << 45, 0xffff'ffff'f000};

const uint8_t* g_input = nullptr;
size_t g_input_size = 0;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_paging_vm: %s\ninput (%zu bytes):", what.c_str(), g_input_size);
  for (size_t i = 0; i < g_input_size; ++i) std::fprintf(stderr, " %02x", g_input[i]);
  std::fprintf(stderr, "\n");
  std::abort();
}

// The kernel and a user process: code, data and a stack at CPL 3, the SkippingKernel's
// pages read-only, its stacks writable. Returns the GPAs of every table made.
std::vector<uint64_t> build_tables(TestGuest& g, const std::vector<uint8_t>& kernel_pages) {
  for (uint64_t i = 0; i < 2; ++i) g.map(kCode + i * 0x1000, TestGuest::data_page(i), kP | kW | kU);
  for (uint64_t i = 0; i < 4; ++i) {
    g.map(kData + i * 0x1000, TestGuest::data_page(2 + i), kP | kW | kU | kXd);
  }
  g.map(kUserStack, TestGuest::data_page(6), kP | kW | kU | kXd);
  for (uint64_t i = 0; i < SkippingKernel::kPages; ++i) {
    const uint64_t gpa = TestGuest::data_page(8 + i);
    g.map(kKernel + i * 0x1000, gpa, i == 2 ? kP : kP | kXd);
    (void)g.memory.write(Gpa{gpa}, kernel_pages.data() + i * 0x1000, 0x1000);
  }
  for (uint64_t i = 0; i < 3; ++i) {
    g.map(kKernelStack + i * 0x1000, TestGuest::data_page(11 + i), kP | kW | kXd);
  }
  // Tables come from kTablesBase up; one more, empty, for edits to link to.
  const uint64_t end = g.new_table() + 0x1000;
  std::vector<uint64_t> tables;
  for (uint64_t t = TestGuest::kTablesBase; t < end; t += 0x1000) tables.push_back(t);
  return tables;
}

void edit_tables(TestGuest& g, const std::vector<uint64_t>& tables, const uint8_t* edit) {
  uint64_t value;
  std::memcpy(&value, edit + 2, 8);
  const uint64_t table = tables[edit[0] % tables.size()];
  const uint64_t slot = table + 8 * (edit[1] | ((edit[0] & 0x80u) << 1));
  switch ((edit[0] >> 5) & 3) {
    case 0:
      break;  // a raw value
    case 1:   // another table: loops and self-maps
      value = tables[(value >> 12) % tables.size()] | (value & 0x8000'0000'0000'0fff) | kP;
      break;
    case 2:   // a frame outside RAM, as a table or a (large) page
      value = kOutside[(value >> 12) % std::size(kOutside)] | (value & 0xfff) | kP;
      break;
    default:  // the same frame, other rights
      value = (g.read(slot) & densevm::X86Pte::kAddressMask) | (value & 0x8000'0000'0000'0fff);
      break;
  }
  g.poke(slot, value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  g_input = data;
  g_input_size = size;
  const unsigned edits = data[0] >> 5;
  const size_t code_at = 1 + edits * kEditBytes;
  if (size <= code_at) return 0;
  const size_t code_size = std::min(size - code_at, kMaxCode);
  const densevm::PagingMode modes[] = {densevm::PagingMode::kShadow, densevm::PagingMode::kEpt,
                                       densevm::PagingMode::kAuto, densevm::PagingMode::kShadow};
  const unsigned cpl = (data[0] & 4) ? 0 : 3;
  densevm::testing::note_execution();

  TestGuest g;
  static const std::vector<uint8_t> kernel_pages = kSkipper.pages();
  const std::vector<uint64_t> tables = build_tables(g, kernel_pages);
  (void)g.memory.write(Gpa{TestGuest::data_page(0)}, data + code_at, code_size);
  for (unsigned i = 0; i < edits; ++i) edit_tables(g, tables, data + 1 + i * kEditBytes);

  densevm::HybridMmu mmu(g.memory, g.tracking, modes[data[0] & 3]);
  densevm::testing::NullBus bus;
  densevm::cpu::Vcpu v(mmu, bus, g.tracking, &mmu);
  mmu.set_tlb_flush([&v] { v.flush_tlb(); });
  densevm::cpu::CpuState& s = v.state();
  s.cr0 = densevm::cpu::kCr0Pe | densevm::cpu::kCr0Pg | densevm::cpu::kCr0Wp;
  s.cr4 = densevm::cpu::kCr4Pae;
  s.efer = densevm::cpu::kEferLme | densevm::cpu::kEferLma | densevm::cpu::kEferNxe;
  v.write_cr3(g.cr3);
  kSkipper.enter(v, cpl);
  for (unsigned i = 0; i < 16; ++i) {
    uint64_t r = 0;
    std::memcpy(&r, data + code_at + (i * 8) % code_size,
                std::min<size_t>(8, code_size - (i * 8) % code_size));
    s.gpr[i] = i % 3 == 2 ? r : kData + (r & 0x3ff8);
  }
  s.gpr[4] = cpl == 3 ? kUserStack + 0xff0 : kKernelStack + 0x1ff0;
  s.rip = kCode;

  const SkippingRun run = densevm::testing::run_skipping(v, kCode + code_size, kMaxInstructions);
  auto& stats = fuzz_stats();
  stats.ring3_instructions += run.ring3;
  stats.ring0_instructions += run.ring0;
  stats.exceptions += run.exceptions;
  stats.unimplemented_ud += run.unimplemented;
  if (run.end == SkippingRun::End::kStopped) {
    // Tables and code outside RAM read all-ones (UNDEFINED.md): a fault, never a stop.
    const bool known = run.message.rfind("triple fault", 0) == 0 ||
                       run.message.rfind("exception delivery makes no progress", 0) == 0;
    if (!known) fail("the VM stopped: " + run.message);
    ++(cpl == 3 ? stats.ring3_table_stops : stats.ring0_stops);
  }
  const std::vector<std::string> problems = densevm::check_shadow(mmu.shadow());
  if (!problems.empty()) fail("shadow check: " + problems.front());
  if (run.ring3 + run.ring0 > kMaxInstructions) fail("ran past the instruction limit");
  return 0;
}
