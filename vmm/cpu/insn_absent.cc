// Instructions of features the vCPU does not have and CPUID does not advertise: #UD at any
// CPL, as on a CPU without the feature (SDM Vol 2 per instruction, AMD APM Vol 3 for SVM).
// Unlike an instruction the interpreter merely lacks (counted as unimplemented, see
// decoder.h), these are the architecture's answer, so they are not counted.
//
// - VMX (CPUID.1:ECX.VMX = 0): VMCALL, VMXON and the rest are #UD outside VMX operation.
// - SVM (no SVM bit, EFER.SVME cannot be set): VMRUN, VMMCALL, VMLOAD, ... are #UD.
// - SYSENTER/SYSEXIT: SEP is not advertised (and the vendor is not Intel, whose CPUs alone
//   run them in 64-bit mode).
// - XSAVE family and XGETBV/XSETBV: CR4.OSXSAVE cannot be set (XSAVE is not advertised).
// - CLAC/STAC: SMAP is not advertised. RDTSCP, RDPID, RDRAND, RDSEED, MONITOR/MWAIT,
//   FSGSBASE, PKU, INVPCID, SGX, SMX, CLZERO: not advertised either.
#include "vmm/cpu/insn_common.h"

namespace densevm::cpu {
namespace {

Exec absent(Vcpu& v, const DecodedInsn&) { return v.raise(kVecUd); }

bool build_absent(const DecodeContext&, DecodedInsn& d) {
  d.handler = &absent;
  return true;
}

constexpr ZydisMnemonic kAbsent[] = {
    // VMX
    ZYDIS_MNEMONIC_VMCALL, ZYDIS_MNEMONIC_VMLAUNCH, ZYDIS_MNEMONIC_VMRESUME,
    ZYDIS_MNEMONIC_VMXOFF, ZYDIS_MNEMONIC_VMXON, ZYDIS_MNEMONIC_VMPTRLD, ZYDIS_MNEMONIC_VMPTRST,
    ZYDIS_MNEMONIC_VMCLEAR, ZYDIS_MNEMONIC_VMREAD, ZYDIS_MNEMONIC_VMWRITE, ZYDIS_MNEMONIC_VMFUNC,
    ZYDIS_MNEMONIC_INVEPT, ZYDIS_MNEMONIC_INVVPID,
    // SVM
    ZYDIS_MNEMONIC_VMRUN, ZYDIS_MNEMONIC_VMMCALL, ZYDIS_MNEMONIC_VMLOAD, ZYDIS_MNEMONIC_VMSAVE,
    ZYDIS_MNEMONIC_STGI, ZYDIS_MNEMONIC_CLGI, ZYDIS_MNEMONIC_SKINIT, ZYDIS_MNEMONIC_INVLPGA,
    // SEP
    ZYDIS_MNEMONIC_SYSENTER, ZYDIS_MNEMONIC_SYSEXIT,
    // XSAVE
    ZYDIS_MNEMONIC_XGETBV, ZYDIS_MNEMONIC_XSETBV, ZYDIS_MNEMONIC_XSAVE, ZYDIS_MNEMONIC_XSAVE64,
    ZYDIS_MNEMONIC_XRSTOR, ZYDIS_MNEMONIC_XRSTOR64, ZYDIS_MNEMONIC_XSAVEOPT,
    ZYDIS_MNEMONIC_XSAVEOPT64, ZYDIS_MNEMONIC_XSAVEC, ZYDIS_MNEMONIC_XSAVEC64,
    ZYDIS_MNEMONIC_XSAVES, ZYDIS_MNEMONIC_XSAVES64, ZYDIS_MNEMONIC_XRSTORS,
    ZYDIS_MNEMONIC_XRSTORS64,
    // SMAP, and the other unadvertised system features
    ZYDIS_MNEMONIC_CLAC, ZYDIS_MNEMONIC_STAC, ZYDIS_MNEMONIC_RDTSCP, ZYDIS_MNEMONIC_RDPID,
    ZYDIS_MNEMONIC_RDRAND, ZYDIS_MNEMONIC_RDSEED, ZYDIS_MNEMONIC_MONITOR, ZYDIS_MNEMONIC_MWAIT,
    ZYDIS_MNEMONIC_MONITORX, ZYDIS_MNEMONIC_MWAITX, ZYDIS_MNEMONIC_RDFSBASE,
    ZYDIS_MNEMONIC_WRFSBASE, ZYDIS_MNEMONIC_RDGSBASE, ZYDIS_MNEMONIC_WRGSBASE,
    ZYDIS_MNEMONIC_RDPKRU, ZYDIS_MNEMONIC_WRPKRU, ZYDIS_MNEMONIC_INVPCID, ZYDIS_MNEMONIC_ENCLS,
    ZYDIS_MNEMONIC_ENCLU, ZYDIS_MNEMONIC_GETSEC, ZYDIS_MNEMONIC_CLZERO,
};

}  // namespace

void register_absent_features() {
  for (ZydisMnemonic m : kAbsent) register_builder(m, &build_absent);
}

}  // namespace densevm::cpu
