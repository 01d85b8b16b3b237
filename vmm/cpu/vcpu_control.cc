// Control registers, INVLPG and MSRs: the state that changes how the vCPU translates.
#include "vmm/cpu/cpuid.h"
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

// Any CR4 write flushes the whole soft TLB, global entries included: toggling PGE must
// (SDM Vol 3A §4.10.4.1; Linux's __flush_tlb_all does it after changing kernel mappings),
// and flushing more than required is always allowed. The MMU must flush as much: a shadow
// MMU resyncs its out-of-sync tables as on a CR3 load, or a kernel mapping the guest
// changed without INVLPG stays stale behind a global flush.
void Vcpu::write_cr4(uint64_t v) {
  s_.cr4 = v | kCr4Pae;
  flush_tlb();
  if (s_.cr0 & kCr0Pg) mmu_.cr3_loaded(paging_context());
}

void Vcpu::invlpg(uint64_t va) {
  const uint64_t tag = tlb_tag(va);
  for (size_t view = 0; view < 2; ++view) {
    TlbEntry& e = tlb_[view * kTlbSize + ((va >> kPageShift) & (kTlbSize - 1))];
    if (e.read_tag == tag || e.exec_tag == tag) e = TlbEntry{};
  }
  ++counters_.invlpg;
  break_inner_ = true;
  mmu_.invlpg(Gva{va}, paging_context());
}

namespace {

// IA32_MISC_ENABLE (SDM Vol 4 Table 2-2): fast strings (0), limit CPUID maxval (22) and XD
// disable (34) may change; BTS and PEBS unavailable (11, 12) always read 1.
constexpr uint64_t kMiscWritable = (uint64_t{1} << 0) | (uint64_t{1} << 22) | (uint64_t{1} << 34);
constexpr uint64_t kMiscFixed = (uint64_t{1} << 11) | (uint64_t{1} << 12);

// Each PAT entry is a memory type: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-; 2 and 3 are reserved.
bool valid_pat(uint64_t v) {
  for (unsigned i = 0; i < 8; ++i) {
    const uint64_t type = (v >> (8 * i)) & 0xff;
    if (type == 2 || type == 3 || type > 7) return false;
  }
  return true;
}

// IA32_MTRR_DEF_TYPE: type (7:0, a valid MTRR type: 0 1 4 5 6), FE (10), E (11).
bool valid_mtrr_def_type(uint64_t v) {
  const uint64_t type = v & 0xff;
  return (v & ~uint64_t{0xcff}) == 0 && (type <= 1 || (type >= 4 && type <= 6));
}

}  // namespace

bool Vcpu::read_msr(uint32_t msr, uint64_t& value) {
  switch (msr) {
    case kMsrTsc: value = tsc(); return true;
    case kMsrApicBase: value = s_.apic_base; return true;
    case kMsrBiosSignId: value = 0; return true;  // no microcode update loaded
    case kMsrPlatformInfo: value = (kVirtualHz / 100'000'000) << 8; return true;  // ratio x 100 MHz
    case kMsrMtrrCap: value = 0; return true;  // no variable or fixed ranges, no WC
    case kMsrMiscEnable: value = s_.misc_enable | kMiscFixed; return true;
    case kMsrPat: value = s_.pat; return true;
    case kMsrMtrrDefType: value = s_.mtrr_def_type; return true;
    case kMsrEfer: value = s_.efer; return true;
    case kMsrStar: value = s_.star; return true;
    case kMsrLstar: value = s_.lstar; return true;
    case kMsrCstar: value = s_.cstar; return true;
    case kMsrFmask: value = s_.fmask; return true;
    case kMsrFsBase: value = s_.fs_base; return true;
    case kMsrGsBase: value = s_.gs_base; return true;
    case kMsrKernelGsBase: value = s_.kernel_gs_base; return true;
    default: return msr_device_ != nullptr && msr_device_->read_msr(msr, value);
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
    case kMsrBiosSignId: return true;  // a write of 0 before CPUID, to read the revision
    case kMsrMiscEnable:
      if (value & ~(kMiscWritable | kMiscFixed)) return false;
      s_.misc_enable = value & kMiscWritable;
      return true;
    case kMsrPat:
      if (!valid_pat(value)) return false;
      s_.pat = value;
      return true;
    case kMsrMtrrDefType:
      if (!valid_mtrr_def_type(value)) return false;
      s_.mtrr_def_type = value;
      return true;
    default:
      return msr_device_ != nullptr && msr_device_->write_msr(msr, value);
  }
}

}  // namespace densevm::cpu
