#include "vmm/cpu/cpuid.h"

#include <cstring>

#include "vmm/x86_pte.h"

namespace densevm::cpu {
namespace {

constexpr uint32_t bit(unsigned n) { return uint32_t{1} << n; }

// Four little-endian characters of a string, as CPUID returns them in a register.
uint32_t chars(const char* s, unsigned at) {
  uint32_t v = 0;
  std::memcpy(&v, s + at, 4);
  return v;
}

constexpr char kVendor[] = "DenseVM vCPU";
constexpr char kBrand[48] = "DenseVM virtual x86-64 CPU";  // NUL-padded to 48
static_assert(sizeof kVendor == 13, "the vendor string is 12 characters");

constexpr uint32_t kMaxBasic = 7;
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
      r.ecx = bit(23);     // POPCNT
      r.edx = bit(3) | bit(4) | bit(5) | bit(6) | bit(9) | bit(15);  // PSE TSC MSR PAE APIC CMOV
      r.edx |= bit(0) | bit(24) | bit(25) | bit(26);                 // FPU FXSR SSE SSE2
      break;
    case 7:
      if (subleaf == 0) r.ebx = bit(13);  // FCS/FDS deprecated
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
    case 0x80000008:
      r.eax = kGuestMaxPhysAddrBits | (48u << 8);
      break;
    default:
      break;
  }
  return r;
}

}  // namespace densevm::cpu
