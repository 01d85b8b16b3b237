// setcc and cmovcc for all 16 conditions, under random status flags.
#include "tests/diff/gen_util.h"
#include "tests/diff/insn_gen.h"

namespace densevm::diff {

void gen_condition(Rng& rng, size_t n, std::vector<DiffCase>& out) {
  for (unsigned cc = 0; cc < 16; ++cc) {
    for (bool memory : {false, true}) {
      repeat(rng, n, out, [&](CaseBuilder& b) {
        b.random_status_flags();
        auto d = memory ? b.mem(8) : b.reg(8);
        return b.emit(kSetcc[cc], {d});
      });
    }
    for (unsigned w : kWideWidths) {
      for (bool memory : {false, true}) {
        // A not-taken 32-bit cmov still zero-extends the destination.
        repeat(rng, n, out, [&](CaseBuilder& b) {
          b.random_status_flags();
          auto d = b.reg(w);
          auto s = memory ? b.mem(w) : b.reg(w);
          return b.emit(kCmovcc[cc], {d, s});
        });
      }
    }
  }
}

}  // namespace densevm::diff
