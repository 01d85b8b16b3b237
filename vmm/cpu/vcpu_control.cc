// Control registers, INVLPG and MSRs: the state that changes how the vCPU translates.
#include "vmm/cpu/vcpu.h"

namespace densevm::cpu {

void Vcpu::write_cr0(uint64_t v) {
  s_.cr0 = v | kCr0Pe | kCr0Pg;
  flush_tlb();
}

void Vcpu::write_cr3(uint64_t v) {
  s_.cr3 = v;
  flush_tlb();
  ++counters_.cr3_loads;
  mmu_.cr3_loaded(paging_context());
}

void Vcpu::write_cr4(uint64_t v) {
  s_.cr4 = v | kCr4Pae;
  flush_tlb();
}

void Vcpu::invlpg(uint64_t va) {
  const uint64_t page_va = va & ~kPageMask;
  for (auto& view : tlb_) {
    TlbEntry& e = view[(va >> kPageShift) & (kTlbSize - 1)];
    if (e.read_tag == page_va || e.exec_tag == page_va) e = TlbEntry{};
  }
  ++counters_.invlpg;
  break_inner_ = true;
  mmu_.invlpg(Gva{va}, paging_context());
}

bool Vcpu::read_msr(uint32_t msr, uint64_t& value) {
  switch (msr) {
    case kMsrTsc: value = tsc(); return true;
    case kMsrApicBase: value = s_.apic_base; return true;
    case kMsrEfer: value = s_.efer; return true;
    case kMsrStar: value = s_.star; return true;
    case kMsrLstar: value = s_.lstar; return true;
    case kMsrCstar: value = s_.cstar; return true;
    case kMsrFmask: value = s_.fmask; return true;
    case kMsrFsBase: value = s_.fs_base; return true;
    case kMsrGsBase: value = s_.gs_base; return true;
    case kMsrKernelGsBase: value = s_.kernel_gs_base; return true;
    default: return false;
  }
}

bool Vcpu::write_msr(uint32_t msr, uint64_t value) {
  switch (msr) {
    case kMsrTsc:
      s_.tsc_offset = static_cast<int64_t>(value - counters_.retired);
      return true;
    case kMsrApicBase:
      return value == s_.apic_base;  // relocating or disabling the APIC is not modelled
    case kMsrEfer: {
      // LME/LMA are fixed once in long mode; only SCE and NXE may change.
      constexpr uint64_t kFixed = kEferLme | kEferLma;
      if ((value & kFixed) != (s_.efer & kFixed)) return false;
      if (value & ~(kFixed | kEferSce | kEferNxe)) return false;
      s_.efer = value;
      flush_tlb();
      return true;
    }
    case kMsrStar: s_.star = value; return true;
    case kMsrLstar:
    case kMsrCstar:
    case kMsrFsBase:
    case kMsrGsBase:
    case kMsrKernelGsBase:
      if (!is_canonical(value)) return false;
      if (msr == kMsrLstar) s_.lstar = value;
      if (msr == kMsrCstar) s_.cstar = value;
      if (msr == kMsrFsBase) s_.fs_base = value;
      if (msr == kMsrGsBase) s_.gs_base = value;
      if (msr == kMsrKernelGsBase) s_.kernel_gs_base = value;
      return true;
    case kMsrFmask: s_.fmask = value & 0xffffffff; return true;
    default:
      return false;
  }
}

}  // namespace densevm::cpu
