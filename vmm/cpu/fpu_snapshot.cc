#include "vmm/cpu/fpu_snapshot.h"

namespace densevm::cpu {

void save_fpu(StateWriter& w, const FpuState& f) {
  w.u16(f.fcw);
  w.u16(f.fsw);
  w.u8(f.ftw);
  w.u16(f.fop);
  w.u64(f.fip);
  w.u64(f.fdp);
  w.u32(f.mxcsr);
  for (const auto& st : f.st) {
    uint64_t significand;
    uint16_t sign_exponent;
    std::memcpy(&significand, st, 8);
    std::memcpy(&sign_exponent, st + 8, 2);
    w.u64(significand);
    w.u16(sign_exponent);
  }
  for (const Xmm& x : f.xmm) {
    w.u64(x.lo);
    w.u64(x.hi);
  }
}

FpuState restore_fpu(StateReader& r) {
  FpuState f;
  f.fcw = r.u16();
  f.fsw = r.u16();
  f.ftw = r.u8();
  f.fop = r.u16();
  f.fip = r.u64();
  f.fdp = r.u64();
  f.mxcsr = r.u32();
  for (auto& st : f.st) {
    const uint64_t significand = r.u64();
    const uint16_t sign_exponent = r.u16();
    std::memcpy(st, &significand, 8);
    std::memcpy(st + 8, &sign_exponent, 2);
  }
  for (Xmm& x : f.xmm) {
    x.lo = r.u64();
    x.hi = r.u64();
  }
  // What FLDCW, FXRSTOR and LDMXCSR would have refused or normalized: corruption.
  if ((f.fcw & ~kFcwWritable) != kFcwFixed1) throw StateError("vcpu record has a bad x87 control word");
  if (f.fop > 0x7ff) throw StateError("vcpu record has a bad x87 opcode");
  if (f.mxcsr & ~kMxcsrWritable) throw StateError("vcpu record has a bad MXCSR");
  return f;
}

}  // namespace densevm::cpu
