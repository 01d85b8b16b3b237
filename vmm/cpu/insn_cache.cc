// Cache control, ordering and prefetch: WBINVD INVD WBNOINVD, CLFLUSH CLFLUSHOPT, LFENCE
// MFENCE SFENCE, PREFETCHh PREFETCHW (SDM Vol 2). Guest memory is coherent host memory and
// one vCPU retires in order, so none has anything to do beyond its checks:
// - WBINVD, INVD (F3 0F 09, WBNOINVD, is WBINVD to Zydis and to a CPU without it): #GP(0)
//   above CPL 0.
// - CLFLUSH, CLFLUSHOPT: a byte load's checks (#GP/#SS for a non-canonical address, #PF),
//   without reading memory or a device.
// - fences: nothing. They execute although CPUID does not yet advertise SSE/SSE2.
// - prefetches: never fault, never touch memory, whatever the address.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

Exec write_back(Vcpu& v, const DecodedInsn&) {
  return v.state().cpl == 0 ? Exec::kNext : v.raise_gp0();
}

Exec cache_line_flush(Vcpu& v, const DecodedInsn& d) {
  return v.probe(v.effective_address(d), Access::kRead) ? Exec::kNext : Exec::kFault;
}

Exec nothing(Vcpu&, const DecodedInsn&) { return Exec::kNext; }

template <Handler kFn>
bool build_plain(const DecodeContext&, DecodedInsn& d) {
  d.handler = kFn;
  return true;
}

bool build_flush(const DecodeContext& c, DecodedInsn& d) {
  if (c.kind[0] != OpKind::kMem) return false;
  d.handler = &cache_line_flush;
  return true;
}

}  // namespace

void register_cache_control() {
  register_builder(ZYDIS_MNEMONIC_WBINVD, &build_plain<&write_back>);
  register_builder(ZYDIS_MNEMONIC_INVD, &build_plain<&write_back>);
  register_builder(ZYDIS_MNEMONIC_CLFLUSH, &build_flush);
  register_builder(ZYDIS_MNEMONIC_CLFLUSHOPT, &build_flush);
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_LFENCE, ZYDIS_MNEMONIC_MFENCE, ZYDIS_MNEMONIC_SFENCE,
                          ZYDIS_MNEMONIC_PREFETCH, ZYDIS_MNEMONIC_PREFETCHNTA,
                          ZYDIS_MNEMONIC_PREFETCHT0, ZYDIS_MNEMONIC_PREFETCHT1,
                          ZYDIS_MNEMONIC_PREFETCHT2, ZYDIS_MNEMONIC_PREFETCHW,
                          ZYDIS_MNEMONIC_PREFETCHWT1}) {
    register_builder(m, &build_plain<&nothing>);
  }
}

}  // namespace densevm::cpu
