#include "vmm/cpu/vcpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/support/flat_vm.h"
#include "vmm/cpu/cpuid.h"

namespace densevm::testing {
namespace {

constexpr uint64_t kCode = 0x10000000;

RunOutcome run_code(FlatVm& vm, const std::vector<uint8_t>& code, uint64_t at = kCode) {
  vm.map(at & ~uint64_t{0xfff}, 0x3000, FlatVm::kRead | FlatVm::kWrite | FlatVm::kExec);
  vm.write(at, code.data(), code.size());
  vm.set_rip(at);
  return vm.run_until(at + code.size(), 100000);
}

TEST(Vcpu, RunsALoopWithLazyFlags) {
  FlatVm vm;
  // mov eax,0; mov ecx,10; l: add rax,rcx; dec rcx; jnz l
  const std::vector<uint8_t> code = {0xb8, 0, 0, 0, 0, 0xb9, 10, 0, 0, 0, 0x48, 0x01, 0xc8,
                                     0x48, 0xff, 0xc9, 0x75, 0xf8};
  const RunOutcome out = run_code(vm, code);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message;
  EXPECT_EQ(vm.gpr(0), 55u);
  EXPECT_EQ(vm.gpr(1), 0u);
  EXPECT_EQ(out.instructions, 2u + 3u * 10u);
  EXPECT_TRUE(vm.rflags() & cpu::kFlagZf);
}

TEST(Vcpu, SelfModifyingCodeDropsTheDecodedPage) {
  FlatVm vm;
  // mov ecx,2; l: mov eax,5; mov byte [rip-11],2 (patches the 5); dec ecx; jnz l
  const std::vector<uint8_t> code = {0xb9, 2, 0, 0, 0, 0xb8, 5, 0, 0, 0,
                                     0xc6, 0x05, 0xf5, 0xff, 0xff, 0xff, 2,
                                     0xff, 0xc9, 0x75, 0xf0};
  const RunOutcome out = run_code(vm, code);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message;
  EXPECT_EQ(vm.gpr(0), 2u) << "the second pass must execute the patched instruction";
}

TEST(Vcpu, InstructionCrossingAPageBoundary) {
  FlatVm vm;
  // mov rax, imm64 starting 4 bytes before a page end.
  const std::vector<uint8_t> code = {0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8};
  const RunOutcome out = run_code(vm, code, kCode + 0xffc);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kReachedStop) << out.message;
  EXPECT_EQ(vm.gpr(0), 0x0807060504030201u);
}

// An instruction the interpreter lacks is the guest's #UD at any CPL, never a stopped VM;
// it is counted with its mnemonic, and a second execution is served from the decode cache.
TEST(Vcpu, UnimplementedInstructionRaisesUdAndIsCounted) {
  for (const unsigned cpl : {3u, 0u}) {
    FlatVm vm(cpl);
    const std::vector<uint8_t> code = {0x90, 0xc5, 0xf8, 0x28, 0xc1};  // nop; vmovaps xmm0, xmm1
    RunOutcome out = run_code(vm, code);
    ASSERT_EQ(out.kind, RunOutcome::Kind::kException) << out.message;
    EXPECT_EQ(out.vector, cpu::kVecUd);
    EXPECT_EQ(vm.rip(), kCode + 1) << "reported at the instruction";
    EXPECT_EQ(out.instructions, 1u);
    const uint64_t decodes = vm.vcpu().counters().decodes;
    vm.set_rip(kCode + 1);
    out = vm.run_until(kCode + code.size(), 10);
    EXPECT_EQ(out.vector, cpu::kVecUd);
    EXPECT_EQ(vm.vcpu().counters().decodes, decodes) << "cached";
    EXPECT_EQ(vm.vcpu().counters().unimplemented_ud, 2u);
    EXPECT_EQ(vm.vcpu().unimplemented_first(), std::vector<std::string>{"vmovaps"});
  }
}

TEST(Vcpu, UnimplementedListKeepsTheFirstDistinctMnemonics) {
  FlatVm vm;
  const std::vector<std::vector<uint8_t>> codes = {
      {0xc5, 0xf8, 0x28, 0xc1},  // vmovaps
      {0xc5, 0xf8, 0x28, 0xc1},  // vmovaps again: listed once
      {0xc5, 0xf8, 0x58, 0xc1},  // vaddps
      {0xc5, 0xf8, 0x59, 0xc1},  // vmulps
      {0xc5, 0xf8, 0x5c, 0xc1},  // vsubps
      {0xc5, 0xf8, 0x5e, 0xc1},  // vdivps: a fifth, counted but not listed
  };
  for (const auto& code : codes) {
    ASSERT_EQ(run_code(vm, code).vector, cpu::kVecUd);
  }
  EXPECT_EQ(vm.vcpu().counters().unimplemented_ud, 6u);
  EXPECT_EQ(vm.vcpu().unimplemented_first(),
            (std::vector<std::string>{"vmovaps", "vaddps", "vmulps", "vsubps"}));
  EXPECT_EQ(vm.vcpu().counters().exceptions, 0u) << "reported, not delivered, in FlatVm";
}

TEST(Vcpu, InvalidOpcodeRaisesUd) {
  FlatVm vm;
  const std::vector<uint8_t> code = {0x90, 0x06};  // push es does not exist in 64-bit mode
  const RunOutcome out = run_code(vm, code);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecUd);
  EXPECT_EQ(vm.rip(), kCode + 1);
}

TEST(Vcpu, PageFaultReportsAddressAndErrorCode) {
  FlatVm vm;
  // mov rax, [0x5000]; mov qword [0x6000], rax
  const std::vector<uint8_t> code = {0x48, 0x8b, 0x04, 0x25, 0x00, 0x50, 0, 0};
  const RunOutcome out = run_code(vm, code);
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(out.cr2, 0x5000u);
  EXPECT_EQ(out.error_code, kPfUser);
  EXPECT_EQ(vm.rip(), kCode) << "a faulting instruction does not retire";
}

TEST(Vcpu, WriteToReadOnlyPageFaultsWithoutSideEffects) {
  FlatVm vm;
  vm.map(0x20000000, 0x1000, FlatVm::kRead);
  vm.set_gpr(3, 0x20000000);
  vm.set_gpr(0, 7);
  // add qword [rbx], rax
  const RunOutcome out = run_code(vm, {0x48, 0x01, 0x03});
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecPf);
  EXPECT_EQ(out.error_code, kPfUser | kPfWrite | kPfPresent);
  uint64_t mem = 1;
  vm.read(0x20000000, &mem, 8);
  EXPECT_EQ(mem, 0u);
}

TEST(Vcpu, NonCanonicalAccessRaisesGp) {
  FlatVm vm;
  vm.set_gpr(3, 0x0000800000000000);
  const RunOutcome out = run_code(vm, {0x48, 0x8b, 0x03});  // mov rax, [rbx]
  ASSERT_EQ(out.kind, RunOutcome::Kind::kException);
  EXPECT_EQ(out.vector, cpu::kVecGp);
}

// Code in one RAM page at 0, device space at 0x1000: MMIO goes to a bus that records it.
class MmioMmu final : public Mmu {
 public:
  Translation translate(Gva va, Access, const PagingContext&) override {
    Translation t;
    if (va.page_number() == 0) {
      t.kind = Translation::Kind::kRam;
      t.host_page = code;
      t.writable = t.executable = true;
    } else {
      t.kind = Translation::Kind::kMmio;
      t.gpa = Gpa{va.value()};
    }
    return t;
  }
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  const char* mode_name() const override { return "mmio-test"; }
  alignas(4096) uint8_t code[kPageSize] = {};
};

class RecordingBus final : public DeviceBus {
 public:
  uint32_t port_read(uint16_t, unsigned) override { return 0; }
  void port_write(uint16_t, unsigned, uint32_t) override {}
  uint64_t mmio_read(Gpa gpa, unsigned size) override {
    reads.push_back({gpa.value(), size});
    return 0x0101010101010101 * (gpa.value() & 0xff);
  }
  void mmio_write(Gpa gpa, unsigned size, uint64_t value) override {
    writes.push_back({gpa.value(), size, value});
  }
  struct Access { uint64_t gpa; unsigned size; uint64_t value = 0; };
  std::vector<Access> reads, writes;
};

// Devices take at most 8 bytes at a time: a 16-byte SSE access reaches them in two halves
// (and the vCPU never copies more than the device returned).
TEST(Vcpu, SixteenByteMmioAccessGoesInEightBytePieces) {
  MmioMmu mmu;
  RecordingBus bus;
  PageTracking tracking(16);
  cpu::Vcpu vcpu(mmu, bus, tracking);
  vcpu.set_deliver_exceptions(false);
  cpu::CpuState& s = vcpu.state();
  s.cr0 = cpu::kCr0Pe | cpu::kCr0Pg;
  s.cr4 = cpu::kCr4Pae | cpu::kCr4Osfxsr;
  s.gpr[cpu::kRax] = 0x1010;
  // movdqu xmm0, [rax]; movdqu [rax+0x20], xmm0; hlt
  const uint8_t code[] = {0xf3, 0x0f, 0x6f, 0x00, 0xf3, 0x0f, 0x7f, 0x40, 0x20, 0xf4};
  std::memcpy(mmu.code, code, sizeof code);
  const cpu::RunResult r = vcpu.run(10);
  EXPECT_EQ(r.reason, cpu::StopReason::kHalted) << vcpu.stop_message();
  ASSERT_EQ(bus.reads.size(), 2u);
  EXPECT_EQ(bus.reads[0].gpa, 0x1010u);
  EXPECT_EQ(bus.reads[0].size, 8u);
  EXPECT_EQ(bus.reads[1].gpa, 0x1018u);
  EXPECT_EQ(s.fpu.xmm[0], (cpu::Xmm{0x1010101010101010, 0x1818181818181818}));
  ASSERT_EQ(bus.writes.size(), 2u);
  EXPECT_EQ(bus.writes[1].gpa, 0x1038u);
  EXPECT_EQ(bus.writes[1].size, 8u);
  EXPECT_EQ(bus.writes[1].value, 0x1818181818181818u);
}

}  // namespace
}  // namespace densevm::testing

namespace densevm::testing {
namespace {

// The state added in snapshot version 3 (debug registers, LDTR, TSS limit, unimplemented
// counts) survives save and restore; a record cut short is refused.
TEST(Vcpu, SnapshotKeepsDebugAndDescriptorState) {
  FlatVm a(0);
  cpu::CpuState& s = a.vcpu().state();
  s.dr[2] = 0xffff8000'00001000;
  s.dr6 = cpu::kDr6Reset | 0x4001;
  s.dr7 = cpu::kDr7Reset | 0x3;
  s.ldtr = 0x50;
  s.ldt_base = 0x40800;
  s.ldt_limit = 0x17;
  s.tss_limit = 0x2067;
  ASSERT_EQ(run_code(a, {0xc5, 0xf8, 0x28, 0xc1}).vector, cpu::kVecUd);  // vmovaps
  StateWriter w;
  write_record(w, a.vcpu().save());

  FlatVm b(3);
  StateReader r(w.bytes());
  b.vcpu().restore(read_record<cpu::VcpuState>(r));
  r.expect_end("vcpu");
  const cpu::CpuState& t = b.vcpu().state();
  EXPECT_EQ(t.dr[2], s.dr[2]);
  EXPECT_EQ(t.dr6, s.dr6);
  EXPECT_EQ(t.dr7, s.dr7);
  EXPECT_EQ(t.ldtr, 0x50);
  EXPECT_EQ(t.ldt_base, 0x40800u);
  EXPECT_EQ(t.ldt_limit, 0x17u);
  EXPECT_EQ(t.tss_limit, 0x2067u);
  EXPECT_EQ(b.vcpu().counters().unimplemented_ud, 1u);
  EXPECT_EQ(b.vcpu().unimplemented_first(), std::vector<std::string>{"vmovaps"});

  std::vector<uint8_t> cut = w.bytes();
  cut.pop_back();
  StateReader short_reader(cut);
  EXPECT_THROW((void)read_record<cpu::VcpuState>(short_reader), StateError);
}

}  // namespace
}  // namespace densevm::testing
