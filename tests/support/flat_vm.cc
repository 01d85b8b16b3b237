#include "tests/support/flat_vm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "vmm/cpu/cpuid.h"
#include "vmm/cpu/vcpu.h"

namespace densevm::testing {
namespace {

// Identity "paging" over page-granular host buffers, with x86 permission checks.
class FlatMmu final : public Mmu {
 public:
  struct Page {
    std::unique_ptr<uint8_t[]> bytes;
    unsigned perms = 0;
  };

  Translation translate(Gva va, Access access, const PagingContext& ctx) override {
    Translation t;
    auto it = pages_.find(va.page_number());
    uint32_t err = (access == Access::kWrite ? kPfWrite : 0) | (ctx.user ? kPfUser : 0) |
                   (access == Access::kExec ? kPfFetch : 0);
    if (it == pages_.end()) {
      t.kind = Translation::Kind::kPageFault;
      t.error_code = err;
      return t;
    }
    const unsigned p = it->second.perms;
    const bool ok = (access == Access::kRead && (p & FlatVm::kRead)) ||
                    (access == Access::kWrite && (p & FlatVm::kWrite)) ||
                    (access == Access::kExec && (p & FlatVm::kExec));
    if (!ok) {
      t.kind = Translation::Kind::kPageFault;
      t.error_code = err | kPfPresent;
      return t;
    }
    t.kind = Translation::Kind::kRam;
    t.host_page = it->second.bytes.get();
    t.gpa = Gpa{va.page_base().value()};
    t.writable = p & FlatVm::kWrite;
    t.executable = p & FlatVm::kExec;
    t.user = true;
    return t;
  }
  void invlpg(Gva, const PagingContext&) override {}
  void cr3_loaded(const PagingContext&) override {}
  const char* mode_name() const override { return "flat"; }

  // A zeroed page: one that reset() gave back, else a new one.
  std::unique_ptr<uint8_t[]> new_page() {
    if (spare_.empty()) return std::unique_ptr<uint8_t[]>(new uint8_t[kPageSize]());
    std::unique_ptr<uint8_t[]> page = std::move(spare_.back());
    spare_.pop_back();
    std::memset(page.get(), 0, kPageSize);
    return page;
  }
  // Unmaps every page, keeping its buffer for the next map().
  void unmap_all() {
    for (auto& [number, page] : pages_) spare_.push_back(std::move(page.bytes));
    pages_.clear();
  }

  std::unordered_map<uint64_t, Page> pages_;
  std::vector<std::unique_ptr<uint8_t[]>> spare_;
};

class NullBus final : public DeviceBus {
 public:
  uint32_t port_read(uint16_t port, unsigned) override {
    auto it = inputs_.find(port);
    return it == inputs_.end() ? 0xffffffff : it->second;
  }
  void port_write(uint16_t port, unsigned size, uint32_t value) override {
    writes_.push_back({port, size, value});
  }
  uint64_t mmio_read(Gpa, unsigned) override { return ~uint64_t{0}; }
  void mmio_write(Gpa, unsigned, uint64_t) override {}

  std::unordered_map<uint16_t, uint32_t> inputs_;
  std::vector<PortWrite> writes_;
};

}  // namespace

constexpr uint64_t kTrackedPages = uint64_t{1} << 22;

struct FlatVm::Impl {
  FlatMmu mmu;
  NullBus bus;
  PageTracking tracking{kTrackedPages};
  cpu::Vcpu vcpu{mmu, bus, tracking};
  cpu::VcpuState initial;  // as constructed: what reset() restores

  uint8_t* byte(uint64_t va) {
    auto it = mmu.pages_.find(va >> kPageShift);
    if (it == mmu.pages_.end()) throw std::out_of_range("FlatVm: address not mapped");
    return it->second.bytes.get() + (va & kPageMask);
  }
};

FlatVm::FlatVm(unsigned cpl) : impl_(std::make_unique<Impl>()) {
  cpu::CpuState& s = impl_->vcpu.state();
  // As Linux runs user code: x87 errors as #MF (NE), FWAIT honours TS (MP), SSE on with
  // SIMD floating-point errors as #XM (OSFXSR, OSXMMEXCPT).
  s.cr0 = cpu::kCr0Pe | cpu::kCr0Pg | cpu::kCr0Wp | cpu::cr0::kMp | cpu::cr0::kNe | (1u << 4) /* ET */;
  s.cr4 = cpu::kCr4Pae | cpu::kCr4Osfxsr | cpu::kCr4Osxmmexcpt;
  s.efer = cpu::kEferLme | cpu::kEferLma | cpu::kEferNxe | cpu::kEferSce;
  s.cpl = static_cast<uint8_t>(cpl);
  s.cs = cpl == 3 ? 0x2b : 0x08;
  s.ss = cpl == 3 ? 0x23 : 0x10;
  impl_->vcpu.set_cpl(s.cpl);
  impl_->vcpu.set_deliver_exceptions(false);
  impl_->initial = impl_->vcpu.save();
}

void FlatVm::reset() {
  Impl& m = *impl_;
  m.mmu.unmap_all();
  m.bus.inputs_.clear();
  m.bus.writes_.clear();
  m.tracking = PageTracking(kTrackedPages);
  // kReplaced: the soft TLB, every decoded instruction and every translation go too.
  m.vcpu.restore(m.initial, cpu::RestoredMemory::kReplaced);
}

FlatVm::~FlatVm() = default;

void FlatVm::map(uint64_t gva, uint64_t size, unsigned perms) {
  for (uint64_t p = gva & ~kPageMask; p < gva + size; p += kPageSize) {
    FlatMmu::Page& page = impl_->mmu.pages_[p >> kPageShift];
    if (!page.bytes) page.bytes = impl_->mmu.new_page();
    page.perms = perms;
  }
  impl_->vcpu.flush_tlb();
}

void FlatVm::write(uint64_t gva, const void* data, size_t size) {
  const auto* src = static_cast<const uint8_t*>(data);
  // A page at a time: one lookup a page (fuzz_translator compares 84 KiB after every run).
  for (size_t done = 0; done < size;) {
    const size_t n = std::min<size_t>(size - done, kPageSize - ((gva + done) & kPageMask));
    std::memcpy(impl_->byte(gva + done), src + done, n);
    done += n;
  }
  // Host-side writes bypass write-tracking: drop any decoded code of those pages.
  for (uint64_t p = gva & ~kPageMask; p < gva + size; p += kPageSize) {
    impl_->vcpu.invalidate_code(Gpa{p});
  }
}

void FlatVm::read(uint64_t gva, void* data, size_t size) const {
  auto* dst = static_cast<uint8_t*>(data);
  for (size_t done = 0; done < size;) {
    const size_t n = std::min<size_t>(size - done, kPageSize - ((gva + done) & kPageMask));
    std::memcpy(dst + done, impl_->byte(gva + done), n);
    done += n;
  }
}

void FlatVm::set_gpr(unsigned index, uint64_t value) { impl_->vcpu.state().gpr[index] = value; }
uint64_t FlatVm::gpr(unsigned index) const { return impl_->vcpu.state().gpr[index]; }
void FlatVm::set_rflags(uint64_t value) { impl_->vcpu.set_rflags(value); }
uint64_t FlatVm::rflags() const { return impl_->vcpu.rflags(); }
void FlatVm::set_rip(uint64_t value) { impl_->vcpu.state().rip = value; }
uint64_t FlatVm::rip() const { return impl_->vcpu.state().rip; }
void FlatVm::set_fs_base(uint64_t value) { impl_->vcpu.state().fs_base = value; }
void FlatVm::set_gs_base(uint64_t value) { impl_->vcpu.state().gs_base = value; }

RunOutcome FlatVm::run_fast(uint64_t max_instructions) {
  RunOutcome out;
  cpu::Vcpu& v = impl_->vcpu;
  const cpu::RunResult r = v.run(max_instructions);
  out.instructions = r.retired;
  switch (r.reason) {
    case cpu::StopReason::kBudget:
    case cpu::StopReason::kPaused:  // no marker port here
      out.kind = RunOutcome::Kind::kInstructionLimit;
      break;
    case cpu::StopReason::kException:
      out.kind = RunOutcome::Kind::kException;
      out.vector = v.last_exception().vector;
      out.error_code = v.last_exception().error_code;
      out.cr2 = v.state().cr2;
      break;
    case cpu::StopReason::kHalted:
      out.kind = RunOutcome::Kind::kStopped;
      out.message = "halted";
      break;
    case cpu::StopReason::kStopped:
    case cpu::StopReason::kExit:
      out.kind = RunOutcome::Kind::kStopped;
      out.message = v.stop_message();
      break;
  }
  return out;
}

cpu::Vcpu& FlatVm::vcpu() { return impl_->vcpu; }
void FlatVm::set_port_input(uint16_t port, uint32_t value) { impl_->bus.inputs_[port] = value; }
const std::vector<PortWrite>& FlatVm::port_writes() const { return impl_->bus.writes_; }

RunOutcome FlatVm::run_code(uint64_t gva, const std::vector<uint8_t>& code, uint64_t max_instructions) {
  write(gva, code.data(), code.size());
  set_rip(gva);
  return run_until(gva + code.size(), max_instructions);
}

RunOutcome FlatVm::run_until(uint64_t stop_rip, uint64_t max_instructions) {
  RunOutcome out;
  cpu::Vcpu& v = impl_->vcpu;
  const uint64_t start = v.counters().retired;
  while (true) {
    out.instructions = v.counters().retired - start;
    if (v.state().rip == stop_rip) {
      out.kind = RunOutcome::Kind::kReachedStop;
      return out;
    }
    if (out.instructions >= max_instructions) {
      out.kind = RunOutcome::Kind::kInstructionLimit;
      return out;
    }
    const cpu::RunResult r = v.run(1);
    switch (r.reason) {
      case cpu::StopReason::kBudget:
      case cpu::StopReason::kPaused:  // no marker port here
        break;
      case cpu::StopReason::kException: {
        const cpu::PendingException& e = v.last_exception();
        out.kind = RunOutcome::Kind::kException;
        out.vector = e.vector;
        out.error_code = e.error_code;
        out.cr2 = v.state().cr2;
        out.instructions = v.counters().retired - start;
        return out;
      }
      case cpu::StopReason::kHalted:
        out.kind = RunOutcome::Kind::kStopped;
        out.message = "halted";
        out.instructions = v.counters().retired - start;
        return out;
      case cpu::StopReason::kStopped:
      case cpu::StopReason::kExit:
        out.kind = RunOutcome::Kind::kStopped;
        out.message = v.stop_message();
        out.instructions = v.counters().retired - start;
        return out;
    }
  }
}

}  // namespace densevm::testing
