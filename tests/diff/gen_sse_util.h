// Helpers of the SSE and x87 generators (gen_sse_*.cc, gen_x87.cc): lane values biased to
// the edges of each format (signed zeros, denormals, infinities, quiet and signalling NaNs,
// the overflow, underflow and integer-conversion boundaries) and MXCSR / x87 control words
// over every rounding mode.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "tests/diff/case_builder.h"

namespace densevm::diff {

using Bytes16 = std::array<uint8_t, 16>;

[[nodiscard]] uint32_t edge_single(Rng& rng);
[[nodiscard]] uint64_t edge_double(Rng& rng);

// 16 bytes of lanes: kSingles of edge_single, kDoubles of edge_double, kIntegers of
// edge_biased_value over random lane widths, kRandom bits.
enum class Lanes { kSingles, kDoubles, kIntegers, kRandom };
[[nodiscard]] Bytes16 edge_lanes(Rng& rng, Lanes kind);

// MXCSR with a random rounding mode, DAZ and FTZ, some sticky flags already set, and every
// exception masked (`unmask_percent` 0) or each unmasked with that chance.
[[nodiscard]] uint32_t random_mxcsr(Rng& rng, unsigned unmask_percent);

// An 80-bit x87 value (10 bytes) biased to the edges of double extended precision, and
// sometimes a single or double value widened (what FLD of memory would make).
[[nodiscard]] std::array<uint8_t, 10> edge_extended(Rng& rng);

// A random x87 state in the case's FXSAVE input: TOP, tags, values, condition codes, and
// the control word (each exception unmasked with `unmask` percent); no error pending.
void random_x87_state(CaseBuilder& b, unsigned unmask);

inline void put16(FxImage& fx, size_t offset, uint16_t v) { std::memcpy(&fx[offset], &v, 2); }
inline void put32(FxImage& fx, size_t offset, uint32_t v) { std::memcpy(&fx[offset], &v, 4); }

}  // namespace densevm::diff
