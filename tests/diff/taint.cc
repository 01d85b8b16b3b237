#include "tests/diff/taint.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "tests/diff/gen_util.h"

namespace densevm::diff {
namespace {

constexpr uint64_t kAll = ~uint64_t{0};
constexpr uint64_t kLahfFlags = kFlagSf | kFlagZf | kFlagAf | kFlagPf | kFlagCf;

bool is_gpr(ZydisRegister r) {
  const ZydisRegisterClass c = ZydisRegisterGetClass(r);
  return c == ZYDIS_REGCLASS_GPR8 || c == ZYDIS_REGCLASS_GPR16 || c == ZYDIS_REGCLASS_GPR32 ||
         c == ZYDIS_REGCLASS_GPR64;
}

bool is_flags(ZydisRegister r) {
  return r == ZYDIS_REGISTER_FLAGS || r == ZYDIS_REGISTER_EFLAGS || r == ZYDIS_REGISTER_RFLAGS;
}

bool is_instruction_pointer(ZydisRegister r) {
  return r == ZYDIS_REGISTER_IP || r == ZYDIS_REGISTER_EIP || r == ZYDIS_REGISTER_RIP;
}

bool reads(const ZydisDecodedOperand& op) {
  return (op.actions & ZYDIS_OPERAND_ACTION_MASK_READ) != 0;
}
bool writes(const ZydisDecodedOperand& op) {
  return (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
}

// Where a general-purpose register operand sits in its 64-bit register.
struct GprSlice {
  unsigned index = 0;
  unsigned shift = 0;  // 8 for AH..BH
  unsigned bits = 0;
};

GprSlice slice_of(ZydisRegister r) {
  const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  GprSlice s;
  s.index = static_cast<unsigned>(ZydisRegisterGetId(full));
  s.bits = ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r);
  s.shift = r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH ? 8 : 0;
  return s;
}

// The effects on the status flags and DF of one instruction, as sets of RFLAGS bits.
struct FlagEffect {
  uint64_t computed = 0;   // written with a value computed from the inputs
  uint64_t constant = 0;   // written with 0 or 1
  uint64_t undefined = 0;  // left undefined

  [[nodiscard]] uint64_t written() const { return computed | constant | undefined; }
  void make_undefined(uint64_t f) {
    f &= written();
    computed &= ~f;
    constant &= ~f;
    undefined |= f;
  }
  void make_computed(uint64_t f) {
    f &= written();
    undefined &= ~f;
    computed |= f;
  }
};

FlagEffect flag_effect(const ZydisDecodedInstruction& insn) {
  FlagEffect e;
  if (insn.cpu_flags == nullptr) return e;
  const ZydisAccessedFlags& f = *insn.cpu_flags;
  e.computed = f.modified & kComparedFlags;
  e.constant = (f.set_0 | f.set_1) & kComparedFlags;
  e.undefined = f.undefined & kComparedFlags;
  e.computed &= ~e.undefined;
  return e;
}

uint64_t tested_flags(const ZydisDecodedInstruction& insn) {
  return insn.cpu_flags == nullptr ? 0 : insn.cpu_flags->tested & kComparedFlags;
}

// The condition of CMOVcc in encoding order (SDM Vol. 1 Appendix B).
bool condition_holds(ZydisMnemonic mn, uint64_t rflags) {
  const auto* it = std::find(std::begin(kCmovcc), std::end(kCmovcc), mn);
  const auto cc = static_cast<unsigned>(it - std::begin(kCmovcc));
  const bool cf = rflags & kFlagCf, zf = rflags & kFlagZf, sf = rflags & kFlagSf,
             of = rflags & kFlagOf, pf = rflags & kFlagPf;
  bool holds = false;
  switch (cc >> 1) {
    case 0: holds = of; break;
    case 1: holds = cf; break;
    case 2: holds = zf; break;
    case 3: holds = cf || zf; break;
    case 4: holds = sf; break;
    case 5: holds = pf; break;
    case 6: holds = sf != of; break;
    default: holds = zf || sf != of; break;
  }
  return (cc & 1) ? !holds : holds;
}

bool is_shift(ZydisMnemonic mn) {
  switch (mn) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR:
    case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
    case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
      return true;
    default:
      return false;
  }
}

// One instruction's view of the taint state: reads and writes of its operands.
class Step {
 public:
  Step(TaintState& t, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops,
       const CpuRegs& before, const CpuRegs& after, uint64_t rip)
      : t_(t), insn_(insn), ops_(ops), before_(before), after_(after), rip_(rip) {}

  void run();

 private:
  [[nodiscard]] const ZydisDecodedOperand& op(unsigned i) const { return ops_[i]; }
  [[nodiscard]] unsigned bits(const ZydisDecodedOperand& o) const { return o.size; }

  void control(const char* what) {
    if (!t_.control.empty()) return;
    t_.control = std::string(what) + " (" + ZydisMnemonicGetString(insn_.mnemonic) + " at " +
                 std::to_string(rip_ - kCodeBase) + " bytes into the snippet)";
  }

  [[nodiscard]] uint64_t address(const ZydisDecodedOperand& o);
  [[nodiscard]] uint64_t memory_taint(uint64_t address, unsigned bytes) const;
  void set_memory_taint(uint64_t address, unsigned bytes, uint64_t taint);
  [[nodiscard]] uint64_t read(const ZydisDecodedOperand& o);
  void write(const ZydisDecodedOperand& o, uint64_t taint);
  [[nodiscard]] uint64_t gpr_value(ZydisRegister r) const;
  [[nodiscard]] uint64_t register_taint(ZydisRegister r) const {
    const GprSlice s = slice_of(r);
    return (t_.gpr[s.index] >> s.shift) & mask_of(s.bits);
  }

  // Data operands: every operand but flags, the instruction pointer and RSP used as the
  // implicit stack pointer.
  [[nodiscard]] bool is_data(const ZydisDecodedOperand& o) const {
    if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) return true;
    if (is_flags(o.reg.value) || is_instruction_pointer(o.reg.value)) return false;
    return !(o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && o.reg.value == ZYDIS_REGISTER_RSP);
  }
  [[nodiscard]] int first_data(bool want_read) const;

  void apply_flags(FlagEffect e, bool tainted_inputs) {
    t_.flags = (t_.flags & ~e.written()) | (tainted_inputs ? e.computed : 0) | e.undefined;
  }

  void generic();
  void move();
  void exchange();
  void bitwise();
  void set_condition();
  void conditional_move();
  void shift();
  void double_shift();
  void bit_scan();
  void string_op();
  void flags_transfer();

  TaintState& t_;
  const ZydisDecodedInstruction& insn_;
  const ZydisDecodedOperand* ops_;
  const CpuRegs& before_;
  const CpuRegs& after_;
  uint64_t rip_;
};

uint64_t Step::gpr_value(ZydisRegister r) const {
  if (r == ZYDIS_REGISTER_NONE) return 0;
  if (is_instruction_pointer(r)) return rip_ + insn_.length;
  const GprSlice s = slice_of(r);
  return (before_.gpr[s.index] >> s.shift) & mask_of(s.bits);
}

uint64_t Step::address(const ZydisDecodedOperand& o) {
  const ZydisDecodedOperandMem& m = o.mem;
  for (ZydisRegister r : {m.base, m.index}) {
    if (r == ZYDIS_REGISTER_NONE || is_instruction_pointer(r)) continue;
    if (o.mem.type != ZYDIS_MEMOP_TYPE_AGEN && register_taint(r)) {
      control("an address depends on an undefined value");
    }
  }
  uint64_t ea = gpr_value(m.base) + gpr_value(m.index) * m.scale +
                static_cast<uint64_t>(m.disp.value);
  // Zydis names a push's hidden stack slot [rsp]: the store goes below the old RSP.
  if (o.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && m.base == ZYDIS_REGISTER_RSP &&
      writes(o)) {
    ea -= o.size / 8;
  }
  return ea & mask_of(insn_.address_width);
}

uint64_t Step::memory_taint(uint64_t address, unsigned bytes) const {
  uint64_t taint = 0;
  for (unsigned i = 0; i < bytes; ++i) {
    const uint64_t a = address + i;
    if (a < kDataBase || a >= kDataBase + kDataSize) continue;
    const uint8_t b = t_.data[a - kDataBase];
    if (i < 8) taint |= uint64_t{b} << (8 * i);
    else if (b) taint = kAll;  // wider than 64 bits: any undefined bit taints all of it
  }
  return taint;
}

void Step::set_memory_taint(uint64_t address, unsigned bytes, uint64_t taint) {
  for (unsigned i = 0; i < bytes; ++i) {
    const uint64_t a = address + i;
    if (a < kDataBase || a >= kDataBase + kDataSize) continue;
    t_.data[a - kDataBase] = static_cast<uint8_t>(i < 8 ? taint >> (8 * i) : (taint ? 0xFF : 0));
  }
}

uint64_t Step::read(const ZydisDecodedOperand& o) {
  switch (o.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      const ZydisRegister r = o.reg.value;
      if (is_gpr(r)) {
        return register_taint(r);
      }
      if (is_flags(r) || is_instruction_pointer(r)) return 0;
      const auto it = t_.other.find(r);
      return it == t_.other.end() ? 0 : it->second;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      const uint64_t a = address(o);
      if (o.mem.type == ZYDIS_MEMOP_TYPE_AGEN) {  // LEA: the address is the value
        uint64_t taint = 0;
        for (ZydisRegister r : {o.mem.base, o.mem.index}) {
          if (r != ZYDIS_REGISTER_NONE && !is_instruction_pointer(r) && register_taint(r)) {
            taint = kAll;
          }
        }
        return taint;
      }
      return memory_taint(a, o.size / 8);
    }
    default:
      return 0;
  }
}

void Step::write(const ZydisDecodedOperand& o, uint64_t taint) {
  switch (o.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER: {
      const ZydisRegister r = o.reg.value;
      if (is_gpr(r)) {
        const GprSlice s = slice_of(r);
        const uint64_t mask = mask_of(s.bits) << s.shift;
        uint64_t& g = t_.gpr[s.index];
        g = (g & ~mask) | ((taint << s.shift) & mask);
        if (s.bits == 32) g &= 0xFFFFFFFF;  // 32-bit writes zero-extend (SDM Vol. 1 3.4.1.1)
        return;
      }
      if (is_flags(r) || is_instruction_pointer(r)) return;
      if (taint) t_.other[r] = kAll;
      else t_.other.erase(r);
      return;
    }
    case ZYDIS_OPERAND_TYPE_MEMORY:
      set_memory_taint(address(o), o.size / 8, taint);
      return;
    default:
      return;
  }
}

int Step::first_data(bool want_read) const {
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& o = op(i);
    if (!is_data(o)) continue;
    if (want_read ? reads(o) : writes(o)) return static_cast<int>(i);
  }
  return -1;
}

// Any undefined input makes every output undefined.
void Step::generic() {
  bool tainted = (tested_flags(insn_) & t_.flags) != 0;
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& o = op(i);
    const bool agen = o.type == ZYDIS_OPERAND_TYPE_MEMORY && o.mem.type == ZYDIS_MEMOP_TYPE_AGEN;
    if (reads(o) || agen) tainted |= read(o) != 0;  // LEA's address has no action in Zydis
    else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) (void)address(o);  // an undefined address
  }
  const ZydisInstructionCategory cat = insn_.meta.category;
  if (tainted && (cat == ZYDIS_CATEGORY_COND_BR || cat == ZYDIS_CATEGORY_UNCOND_BR ||
                  cat == ZYDIS_CATEGORY_CALL || cat == ZYDIS_CATEGORY_RET)) {
    control("a branch depends on an undefined value");
  }
  if (tainted && (insn_.mnemonic == ZYDIS_MNEMONIC_DIV || insn_.mnemonic == ZYDIS_MNEMONIC_IDIV)) {
    control("whether a division faults depends on an undefined value");
  }
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& o = op(i);
    if (writes(o) && is_data(o)) write(o, tainted ? kAll : 0);
  }
  apply_flags(flag_effect(insn_), tainted);
}

// MOV, MOVZX, MOVSX(D), PUSH, POP: the value moves bit for bit.
void Step::move() {
  const int src = first_data(true), dst = first_data(false);
  if (src < 0 || dst < 0) return generic();
  uint64_t taint = read(op(static_cast<unsigned>(src)));
  const unsigned from = bits(op(static_cast<unsigned>(src)));
  if ((insn_.mnemonic == ZYDIS_MNEMONIC_MOVSX || insn_.mnemonic == ZYDIS_MNEMONIC_MOVSXD ||
       op(static_cast<unsigned>(src)).type == ZYDIS_OPERAND_TYPE_IMMEDIATE) &&
      from < 64 && (taint >> (from - 1) & 1)) {
    taint |= ~mask_of(from);  // sign extension copies the undefined sign bit
  }
  write(op(static_cast<unsigned>(dst)), taint);
}

void Step::exchange() {
  const uint64_t a = read(op(0)), b = read(op(1));
  write(op(0), b);
  write(op(1), a);
}

// AND, OR, XOR, TEST, NOT: bit i of the result depends on bit i of the inputs only.
void Step::bitwise() {
  const bool same_register = insn_.operand_count_visible >= 2 &&
                             op(0).type == ZYDIS_OPERAND_TYPE_REGISTER &&
                             op(1).type == ZYDIS_OPERAND_TYPE_REGISTER &&
                             op(0).reg.value == op(1).reg.value;
  uint64_t taint = read(op(0));
  if (insn_.mnemonic != ZYDIS_MNEMONIC_NOT) taint |= read(op(1));
  if (same_register && (insn_.mnemonic == ZYDIS_MNEMONIC_XOR || insn_.mnemonic == ZYDIS_MNEMONIC_SUB)) {
    taint = 0;  // x ^ x = x - x = 0 whatever x is
  }
  if (insn_.mnemonic != ZYDIS_MNEMONIC_TEST) write(op(0), taint);
  apply_flags(flag_effect(insn_), taint != 0);
}

void Step::set_condition() {
  write(op(0), (tested_flags(insn_) & t_.flags) ? 1 : 0);
}

void Step::conditional_move() {
  const ZydisDecodedOperand& dst = op(0);
  const uint64_t src = read(op(1));
  if (tested_flags(insn_) & t_.flags) return write(dst, kAll);
  write(dst, condition_holds(insn_.mnemonic, before_.rflags) ? src : read(dst));
}

// SHL SAL SHR SAR ROL ROR RCL RCR (SDM Vol. 2B): a masked count of 0 changes nothing; OF is
// defined only for a masked count of 1; SHL/SHR leave CF undefined once the count reaches
// the operand width (8- and 16-bit operands).
void Step::shift() {
  const ZydisDecodedOperand& dst = op(0);
  const ZydisDecodedOperand& count_op = op(1);
  uint64_t count = 1;
  uint64_t count_taint = 0;
  if (count_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    count = count_op.imm.value.u;
  } else if (count_op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    count = gpr_value(count_op.reg.value);
    count_taint = read(count_op);
  }
  FlagEffect e = flag_effect(insn_);
  const unsigned w = bits(dst);
  if (count_taint) {
    write(dst, kAll);
    e.make_undefined(e.written());
    apply_flags(e, true);
    return;
  }
  const uint64_t masked = count & (w == 64 ? 63 : 31);
  const uint64_t value = read(dst);
  if (masked == 0) {
    write(dst, value);
    return;
  }
  const bool through_carry =
      insn_.mnemonic == ZYDIS_MNEMONIC_RCL || insn_.mnemonic == ZYDIS_MNEMONIC_RCR;
  const bool tainted = value != 0 || (through_carry && (t_.flags & kFlagCf));
  write(dst, tainted ? kAll : 0);
  if (masked == 1) e.make_computed(kFlagOf);
  else e.make_undefined(kFlagOf);
  if ((insn_.mnemonic == ZYDIS_MNEMONIC_SHL ||
       insn_.mnemonic == ZYDIS_MNEMONIC_SHR) && masked >= w) {
    e.make_undefined(kFlagCf);
  }
  apply_flags(e, tainted);
}

// SHLD/SHRD (SDM Vol. 2B): count 0 changes nothing, OF defined for count 1 only, and a count
// above the operand width (16-bit operands) leaves the result and the flags undefined.
void Step::double_shift() {
  const ZydisDecodedOperand& dst = op(0);
  const ZydisDecodedOperand& count_op = op(2);
  uint64_t count = 0, count_taint = 0;
  if (count_op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    count = count_op.imm.value.u;
  } else {
    count = gpr_value(count_op.reg.value);
    count_taint = read(count_op);
  }
  const unsigned w = bits(dst);
  const uint64_t masked = count & (w == 64 ? 63 : 31);
  FlagEffect e = flag_effect(insn_);
  const uint64_t value = read(dst) | read(op(1));
  if (count_taint == 0 && masked == 0) {
    write(dst, read(dst));
    return;
  }
  if (count_taint || masked > w) {
    write(dst, kAll);
    e.make_undefined(e.written());
    apply_flags(e, true);
    return;
  }
  write(dst, value ? kAll : 0);
  if (masked == 1) e.make_computed(kFlagOf);
  else e.make_undefined(kFlagOf);
  apply_flags(e, value != 0);
}

// BSF/BSR (SDM Vol. 2A): a zero source sets ZF and leaves the destination undefined.
void Step::bit_scan() {
  const ZydisDecodedOperand& dst = op(0);
  const uint64_t src = read(op(1));
  const FlagEffect e = flag_effect(insn_);
  if (src) {
    write(dst, kAll);
    apply_flags(e, true);
    return;
  }
  if (after_.rflags & kFlagZf) {
    t_.gpr[slice_of(dst.reg.value).index] = kAll;
  } else {
    write(dst, 0);
  }
  apply_flags(e, false);
}

// MOVS STOS LODS CMPS SCAS, with or without REP (SDM Vol. 2B): element by element, the
// count taken from how far RCX moved.
void Step::string_op() {
  const bool repeated = insn_.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE |
                                            ZYDIS_ATTRIB_HAS_REPNE);
  if (t_.flags & kFlagDf) control("the direction of a string instruction is undefined");
  const uint64_t counter_mask = mask_of(insn_.address_width);
  if (repeated && (t_.gpr[kRcx] & counter_mask)) {
    control("a repeat count depends on an undefined value");
  }
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& o = op(i);
    if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) (void)address(o);  // [rsi] and [rdi] as used
  }
  const uint64_t n = repeated ? ((before_.gpr[kRcx] - after_.gpr[kRcx]) & counter_mask) : 1;
  unsigned size = 0;
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    if (op(i).type == ZYDIS_OPERAND_TYPE_MEMORY) size = op(i).size / 8;
  }
  if (size == 0) return generic();
  const int64_t step = (before_.rflags & kFlagDf) ? -static_cast<int64_t>(size) : size;
  auto at = [&](unsigned reg, uint64_t i) {
    return (before_.gpr[reg] + static_cast<uint64_t>(step) * i) & counter_mask;
  };
  const uint64_t acc_mask = mask_of(8 * size);
  bool compare_tainted = false;
  for (uint64_t i = 0; i < n; ++i) {
    switch (insn_.mnemonic) {
      case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
      case ZYDIS_MNEMONIC_MOVSQ:
        set_memory_taint(at(kRdi, i), size, memory_taint(at(kRsi, i), size));
        break;
      case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
      case ZYDIS_MNEMONIC_STOSQ:
        set_memory_taint(at(kRdi, i), size, t_.gpr[kRax] & acc_mask);
        break;
      case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
      case ZYDIS_MNEMONIC_LODSQ: {
        uint64_t& rax = t_.gpr[kRax];
        rax = (rax & ~acc_mask) | memory_taint(at(kRsi, i), size);
        if (size == 4) rax &= 0xFFFFFFFF;
        break;
      }
      case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
      case ZYDIS_MNEMONIC_CMPSQ:
        compare_tainted = memory_taint(at(kRsi, i), size) || memory_taint(at(kRdi, i), size);
        break;
      default:  // SCAS
        compare_tainted = (t_.gpr[kRax] & acc_mask) || memory_taint(at(kRdi, i), size);
        break;
    }
    if (compare_tainted && repeated && i + 1 < n) {
      control("where a REPE/REPNE comparison stops depends on an undefined value");
    }
  }
  if (n > 0) apply_flags(flag_effect(insn_), compare_tainted);
}

// PUSHF/POPF/LAHF/SAHF move flags to and from data bit for bit.
void Step::flags_transfer() {
  switch (insn_.mnemonic) {
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHFQ: {
      const int dst = first_data(false);
      if (dst >= 0) write(op(static_cast<unsigned>(dst)), t_.flags);
      return;
    }
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ: {
      const int src = first_data(true);
      if (src >= 0) t_.flags = read(op(static_cast<unsigned>(src))) & kComparedFlags;
      return;
    }
    case ZYDIS_MNEMONIC_LAHF:
      t_.gpr[kRax] = (t_.gpr[kRax] & ~uint64_t{0xFF00}) | ((t_.flags & kLahfFlags) << 8);
      return;
    default:  // SAHF
      t_.flags = (t_.flags & ~kLahfFlags) | ((t_.gpr[kRax] >> 8) & kLahfFlags);
      return;
  }
}

void Step::run() {
  const ZydisMnemonic mn = insn_.mnemonic;
  if (insn_.meta.category == ZYDIS_CATEGORY_STRINGOP) return string_op();
  if (is_shift(mn)) return shift();
  if (std::find(std::begin(kCmovcc), std::end(kCmovcc), mn) != std::end(kCmovcc)) {
    return conditional_move();
  }
  if (std::find(std::begin(kSetcc), std::end(kSetcc), mn) != std::end(kSetcc)) {
    return set_condition();
  }
  switch (mn) {
    case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD: case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP:
      return move();
    case ZYDIS_MNEMONIC_XCHG:
      return exchange();
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_NOT:
      return bitwise();
    case ZYDIS_MNEMONIC_SUB:
      if (op(0).type == ZYDIS_OPERAND_TYPE_REGISTER && op(1).type == ZYDIS_OPERAND_TYPE_REGISTER &&
          op(0).reg.value == op(1).reg.value) {
        return bitwise();
      }
      return generic();
    case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD:
      return double_shift();
    case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR:
      return bit_scan();
    case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHFQ:
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ:
    case ZYDIS_MNEMONIC_LAHF: case ZYDIS_MNEMONIC_SAHF:
      return flags_transfer();
    default:
      return generic();
  }
}

}  // namespace

bool TaintState::any() const {
  if (flags) return true;
  for (uint64_t g : gpr) {
    if (g) return true;
  }
  if (!other.empty()) return true;
  return std::any_of(data.begin(), data.end(), [](uint8_t b) { return b != 0; });
}

void propagate(TaintState& t, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops,
               const CpuRegs& before, const CpuRegs& after, uint64_t rip) {
  Step(t, insn, ops, before, after, rip).run();
}

}  // namespace densevm::diff
