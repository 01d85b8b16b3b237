#include "tests/diff/fx_compare.h"

#include <cstdio>
#include <cstring>

#include "tests/diff/disasm.h"
#include "vmm/cpu/x87.h"

namespace densevm::diff {
namespace {

template <class T>
T field(const FxImage& fx, size_t offset) {
  T v;
  std::memcpy(&v, fx.data() + offset, sizeof v);
  return v;
}

std::string hex_bytes(const FxImage& fx, size_t offset, size_t n) {
  std::string s;
  for (size_t i = n; i-- > 0;) {  // most significant byte first, as a number reads
    char b[3];
    std::snprintf(b, sizeof b, "%02x", fx[offset + i]);
    s += b;
    if (i % 4 == 0 && i != 0) s += '_';
  }
  return s;
}

void compare(std::string& out, const char* name, const FxImage& native, const FxImage& vm,
             size_t offset, size_t n, uint64_t mask = ~uint64_t{0}) {
  bool same;
  if (n <= 8) {
    uint64_t a = 0, b = 0;
    std::memcpy(&a, native.data() + offset, n);
    std::memcpy(&b, vm.data() + offset, n);
    same = ((a ^ b) & mask) == 0;
  } else {
    same = std::memcmp(native.data() + offset, vm.data() + offset, n) == 0;
  }
  if (!same) {
    out += std::string("    ") + name + ": native " + hex_bytes(native, offset, n) + "  vm " +
           hex_bytes(vm, offset, n) + "\n";
  }
}

}  // namespace

std::string fx_inputs(const FxImage& fx) {
  std::string s = "\n    mxcsr=" + hex_bytes(fx, kFxMxcsr, 4) + " fcw=" + hex_bytes(fx, kFxFcw, 2) +
                  " fsw=" + hex_bytes(fx, kFxFsw, 2) + " ftw=" + hex_bytes(fx, kFxFtw, 1);
  for (unsigned i = 0; i < 8; ++i) {
    s += std::string(i % 4 == 0 ? "\n   " : "") + " st" + std::to_string(i) + "=" +
         hex_bytes(fx, kFxSt + 16 * i, 10);
  }
  for (unsigned i = 0; i < 16; ++i) {
    s += std::string(i % 3 == 0 ? "\n   " : "") + " xmm" + std::to_string(i) + "=" +
         hex_bytes(fx, kFxXmm + 16 * i, 16);
  }
  return s;
}

cpu::FpuState fpu_from_image(const FxImage& fx) {
  cpu::FpuState f;
  std::memcpy(static_cast<void*>(&f), fx.data(), cpu::kFxsaveImageBytes);
  f.fcw = cpu::normalize_fcw(f.fcw);
  f.reserved5 = 0;
  f.fop &= 0x7ff;
  f.mxcsr_mask = cpu::kMxcsrWritable;
  for (auto& st : f.st) std::memset(st + 10, 0, 6);
  cpu::update_error_summary(f);
  return f;
}

FxImage vcpu_fx_image(const cpu::FpuState& fpu) {
  FxImage fx{};
  std::memcpy(fx.data(), &fpu, cpu::kFxsaveImageBytes);
  return fx;
}

std::string fx_diff(const DiffCase& c, const FxImage& native, const FxImage& vm) {
  std::string out;
  compare(out, "fcw", native, vm, kFxFcw, 2);
  compare(out, "fsw", native, vm, kFxFsw, 2, static_cast<uint16_t>(~undefined_conditions(c)));
  compare(out, "ftw", native, vm, kFxFtw, 1);
  compare(out, "mxcsr", native, vm, kFxMxcsr, 4);
  const unsigned top = (field<uint16_t>(native, kFxFsw) >> 11) & 7;
  const uint8_t tags = native[kFxFtw];
  for (unsigned i = 0; i < 8; ++i) {
    if (!(tags >> ((top + i) & 7) & 1)) continue;  // ST(i) is empty: its bits mean nothing
    const std::string name = "st" + std::to_string(i);
    compare(out, name.c_str(), native, vm, kFxSt + 16 * i, 10);
  }
  for (unsigned i = 0; i < 16; ++i) {
    const std::string name = "xmm" + std::to_string(i);
    compare(out, name.c_str(), native, vm, kFxXmm + 16 * i, 16);
  }
  return out;
}

}  // namespace densevm::diff
