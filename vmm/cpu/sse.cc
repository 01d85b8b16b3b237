#include "vmm/cpu/sse.h"

#include <array>

namespace densevm::cpu {
namespace {

std::array<const XmmForms*, ZYDIS_MNEMONIC_MAX_VALUE + 1>& forms_table() {
  static std::array<const XmmForms*, ZYDIS_MNEMONIC_MAX_VALUE + 1> table{};
  return table;
}

bool build_from_table(const DecodeContext& c, DecodedInsn& d) {
  const XmmForms* f = forms_table()[c.insn.mnemonic];
  return f != nullptr && build_xmm_forms(c, d, *f);
}

}  // namespace

bool read_m128(Vcpu& v, uint64_t va, Xmm& out) {
  if ((va & kPageMask) <= kPageSize - 16) {
    if (const uint8_t* page = v.page_pointer(va, Access::kRead)) {
      std::memcpy(&out, page + (va & kPageMask), 16);
      return true;
    }
  }
  return v.read_bytes(va, &out, 16);
}

bool write_m128(Vcpu& v, uint64_t va, const Xmm& in) {
  if ((va & kPageMask) <= kPageSize - 16) {
    if (uint8_t* page = v.page_pointer(va, Access::kWrite)) {
      std::memcpy(page + (va & kPageMask), &in, 16);
      return true;
    }
  }
  return v.write_bytes(va, &in, 16);
}

bool build_xmm_forms(const DecodeContext& c, DecodedInsn& d, const XmmForms& f) {
  const bool imm = c.explicit_count == 3;
  if (!is_xmm(c, 0) || (imm && c.kind[2] != OpKind::kImm) || c.explicit_count < 2 ||
      c.explicit_count > 3) {
    return false;
  }
  d.reg = reg_number(c, 0);
  if (is_xmm(c, 1)) {
    d.rm = reg_number(c, 1);
    d.handler = f.reg;
  } else if (is_mem(c, 1, f.mem_bytes)) {
    d.handler = f.mem;
  } else {
    return false;
  }
  if (imm) d.imm &= 0xff;
  return true;
}

void register_xmm_forms(const XmmForms* forms, unsigned count) {
  for (unsigned i = 0; i < count; ++i) {
    forms_table()[forms[i].mnemonic] = &forms[i];
    register_builder(forms[i].mnemonic, &build_from_table);
  }
}

void register_sse() {
  register_sse_moves();
  register_sse_lanes();
  register_sse_integer();
  register_sse_shuffles();
  register_sse_float();
  register_sse_conversions();
}

}  // namespace densevm::cpu
