#include "vmm/cpu/cpuid.h"

#include <cstring>

#include "core/x86_pte.h"

namespace densevm::cpu {
namespace {

constexpr uint32_t bit(unsigned n) { return uint32_t{1} << n; }

// Four little-endian characters of a string, as CPUID returns them in a register.
uint32_t chars(const char* s, unsigned at) {
  uint32_t v = 0;
  std::memcpy(&v, s + at, 4);
  return v;
}

// Intel's vendor string: Linux takes the TSC and local APIC timer frequencies from leaf
// 0x15 only on Intel parts (native_calibrate_tsc), and needs them without a PIT or HPET.
constexpr char kVendor[] = "GenuineIntel";
constexpr char kHypervisor[] = "DenseVMvirt\0";
constexpr char kBrand[48] = "DenseVM virtual x86-64 CPU";  // NUL-padded to 48
static_assert(sizeof kVendor == 13, "the vendor string is 12 characters");
static_assert(sizeof kHypervisor == 13, "the hypervisor signature is 12 characters");

constexpr uint32_t kMaxBasic = 0x16;
constexpr uint32_t kMaxHypervisor = 0x40000010;
constexpr uint32_t kMaxExtended = 0x80000008;

}  // namespace

// Only leaf 7 has subleaves (EAX = 0: subleaf 0 alone); ECX does not matter elsewhere.
CpuidResult cpuid(uint32_t leaf, uint32_t subleaf) {
  CpuidResult r;
  switch (leaf) {
    case 0:
      r.eax = kMaxBasic;
      r.ebx = chars(kVendor, 0);
      r.edx = chars(kVendor, 4);
      r.ecx = chars(kVendor, 8);
      break;
    case 1:
      r.eax = 0x00000601;  // family 6, model 0, stepping 1
      r.ebx = 8u << 8;     // CLFLUSH line size 8 x 8 bytes; APIC ID 0
      r.ecx = bit(23) | bit(24) | bit(31);  // POPCNT TSC-DEADLINE HYPERVISOR
      // DE PSE TSC MSR PAE APIC MTRR PGE CMOV PAT
      r.edx = bit(2) | bit(3) | bit(4) | bit(5) | bit(6) | bit(9) | bit(12) | bit(13) | bit(15) | bit(16);
      r.edx |= bit(0) | bit(24) | bit(25) | bit(26);  // FPU FXSR SSE SSE2
      break;
    case 6:
      r.eax = bit(2);  // ARAT: the APIC timer runs in every C-state
      break;
    case 7:
      if (subleaf == 0) r.ebx = bit(13);  // FCS/FDS deprecated
      break;
    case 0x15:
      // TSC / crystal = EBX / EAX = 1, crystal (and local APIC bus) = ECX Hz: both count
      // virtual time, 10^9 a virtual second.
      r.eax = 1;
      r.ebx = 1;
      r.ecx = static_cast<uint32_t>(kVirtualHz);
      break;
    case 0x16:
      r.eax = r.ebx = r.ecx = static_cast<uint32_t>(kVirtualHz / 1'000'000);  // base, max, bus MHz
      break;
    case 0x40000000:
      r.eax = kMaxHypervisor;
      r.ebx = chars(kHypervisor, 0);
      r.ecx = chars(kHypervisor, 4);
      r.edx = chars(kHypervisor, 8);
      break;
    case 0x40000010:
      // The timing leaf other hypervisors use: TSC and APIC bus frequency in kHz.
      r.eax = r.ebx = static_cast<uint32_t>(kVirtualHz / 1000);
      break;
    case 0x80000000:
      r.eax = kMaxExtended;
      break;
    case 0x80000001:
      r.ecx = bit(0) | bit(5);                      // LAHF-SAHF in 64-bit mode, LZCNT
      r.edx = bit(11) | bit(20) | bit(26) | bit(29);  // SYSCALL NX Page1GB LM
      break;
    case 0x80000002:
    case 0x80000003:
    case 0x80000004: {
      const unsigned at = (leaf - 0x80000002) * 16;
      r.eax = chars(kBrand, at);
      r.ebx = chars(kBrand, at + 4);
      r.ecx = chars(kBrand, at + 8);
      r.edx = chars(kBrand, at + 12);
      break;
    }
    case 0x80000007:
      r.edx = bit(8);  // invariant TSC: it counts virtual time at one rate, always
      break;
    case 0x80000008:
      r.eax = kGuestMaxPhysAddrBits | (48u << 8);
      break;
    default:
      break;
  }
  return r;
}

}  // namespace densevm::cpu
