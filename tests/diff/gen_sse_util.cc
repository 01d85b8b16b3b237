#include "tests/diff/gen_sse_util.h"

#include <iterator>

namespace densevm::diff {
namespace {

template <class T, size_t N>
T pick(Rng& rng, const T (&values)[N]) {
  return values[rng.below(N)];
}

}  // namespace

uint32_t edge_single(Rng& rng) {
  static constexpr uint32_t kEdges[] = {
      0x00000000, 0x80000000,  // +-0
      0x3f800000, 0xbf800000, 0x40000000, 0x3f000000, 0x3fc00000, 0xbfc00000, 0x40200000,
      0x7f800000, 0xff800000,  // +-inf
      0x7fc00000, 0xffc00000, 0x7fc12345, 0xffe00001,  // QNaNs (0xffc00000: the indefinite)
      0x7f800001, 0x7fa00000, 0xff812345,              // SNaNs
      0x00000001, 0x007fffff, 0x80400000, 0x00012345,  // denormals
      0x00800000, 0x80800000, 0x00800001,              // smallest normals
      0x7f7fffff, 0xff7fffff, 0x7f000000,              // largest
      0x4f000000, 0xcf000000, 0x4effffff, 0xcf000001,  // +-2^31 and neighbours
      0x5f000000, 0xdf000000, 0x5effffff,              // +-2^63
      0x1f800000, 0x20000000, 0x0c000000, 0x5f800000,  // products that under/overflow
      0x34000000, 0x33800000, 0x3f7fffff, 0x3f800001,  // around 1 (rounding)
  };
  const uint64_t roll = rng.below(100);
  if (roll < 55) return pick(rng, kEdges);
  if (roll < 70) {  // small integers and halves: exact and tie cases of conversions
    const float f = static_cast<float>(static_cast<int>(rng.below(200)) - 100) / (rng.chance(50) ? 1.0f : 2.0f);
    uint32_t bits;
    std::memcpy(&bits, &f, 4);
    return bits;
  }
  if (roll < 80) return static_cast<uint32_t>(rng.next()) & 0x807fffff;  // denormal or zero
  return static_cast<uint32_t>(rng.next());
}

uint64_t edge_double(Rng& rng) {
  static constexpr uint64_t kEdges[] = {
      0x0000000000000000, 0x8000000000000000,
      0x3ff0000000000000, 0xbff0000000000000, 0x4000000000000000, 0x3fe0000000000000,
      0x3ff8000000000000, 0xbff8000000000000, 0x4004000000000000,
      0x7ff0000000000000, 0xfff0000000000000,
      0x7ff8000000000000, 0xfff8000000000000, 0x7ff8000012345678, 0xfffc000000000001,
      0x7ff0000000000001, 0x7ff4000000000000, 0xfff0000012345678,
      0x0000000000000001, 0x000fffffffffffff, 0x8008000000000000, 0x0000000123456789,
      0x0010000000000000, 0x8010000000000000, 0x0010000000000001,
      0x7fefffffffffffff, 0xffefffffffffffff, 0x7fe0000000000000,
      0x41e0000000000000, 0xc1e0000000000000, 0x41dfffffffffffff, 0xc1e0000000200000,  // 2^31
      0x43e0000000000000, 0xc3e0000000000000, 0x43dfffffffffffff,                      // 2^63
      0x47efffffe0000000, 0x47f0000000000000, 0x36a0000000000000, 0x3810000000000000,  // float edges
      0x380fffffffffffff, 0x37a0000000000000, 0x36a0000000000001,
      0x1ff0000000000000, 0x2000000000000000, 0x5ff0000000000000,  // products that under/overflow
      0x3cb0000000000000, 0x3ca0000000000000, 0x3fefffffffffffff, 0x3ff0000000000001,
  };
  const uint64_t roll = rng.below(100);
  if (roll < 55) return pick(rng, kEdges);
  if (roll < 70) {
    const double d = static_cast<double>(static_cast<int>(rng.below(200)) - 100) / (rng.chance(50) ? 1.0 : 2.0);
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    return bits;
  }
  if (roll < 80) return rng.next() & 0x800fffffffffffff;
  if (roll < 88) {  // a float's value, widened: cvtsd2ss/cvtpd2ps boundaries
    const uint32_t s = edge_single(rng);
    float f;
    std::memcpy(&f, &s, 4);
    const double d = static_cast<double>(f);
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    return bits ^ (rng.chance(50) ? rng.below(1u << 29) : 0);  // and bits below a float's
  }
  return rng.next();
}

Bytes16 edge_lanes(Rng& rng, Lanes kind) {
  Bytes16 b{};
  switch (kind) {
    case Lanes::kSingles:
      for (unsigned i = 0; i < 4; ++i) {
        const uint32_t v = edge_single(rng);
        std::memcpy(&b[4 * i], &v, 4);
      }
      break;
    case Lanes::kDoubles:
      for (unsigned i = 0; i < 2; ++i) {
        const uint64_t v = edge_double(rng);
        std::memcpy(&b[8 * i], &v, 8);
      }
      break;
    case Lanes::kIntegers: {
      static constexpr unsigned kWidths[] = {8, 16, 32, 64};
      const unsigned width = pick(rng, kWidths);
      for (unsigned i = 0; i < 16; i += width / 8) {
        const uint64_t v = edge_biased_value(rng, width);
        std::memcpy(&b[i], &v, width / 8);
      }
      break;
    }
    case Lanes::kRandom:
      for (unsigned i = 0; i < 16; i += 8) {
        const uint64_t v = rng.next();
        std::memcpy(&b[i], &v, 8);
      }
      break;
  }
  return b;
}

uint32_t random_mxcsr(Rng& rng, unsigned unmask_percent) {
  uint32_t m = static_cast<uint32_t>(rng.below(4)) << 13;  // RC
  if (rng.chance(25)) m |= 1u << 6;                        // DAZ
  if (rng.chance(25)) m |= 1u << 15;                       // FTZ
  if (rng.chance(30)) m |= static_cast<uint32_t>(rng.below(64));  // sticky flags already set
  for (unsigned i = 0; i < 6; ++i) {
    if (!rng.chance(unmask_percent)) m |= 1u << (7 + i);
  }
  return m;
}

std::array<uint8_t, 10> edge_extended(Rng& rng) {
  static constexpr struct { uint64_t significand; uint16_t se; } kEdges[] = {
      {0, 0x0000}, {0, 0x8000},                                    // +-0
      {0x8000000000000000, 0x3fff}, {0x8000000000000000, 0xbfff},  // +-1
      {0xc000000000000000, 0x3fff}, {0x8000000000000000, 0x3ffe},  // 1.5, 0.5
      {0xa000000000000000, 0x4000}, {0xc90fdaa22168c235, 0x4000},  // 2.5, pi
      {0x8000000000000000, 0x7fff}, {0x8000000000000000, 0xffff},  // +-inf
      {0xc000000000000000, 0x7fff}, {0xc000000000000000, 0xffff},  // QNaNs (indefinite)
      {0xc000000012345678, 0x7fff}, {0xa000000000000000, 0x7fff},  // QNaN, SNaN
      {0x8000000000000001, 0xffff},                                // SNaN
      {0x0000000000000001, 0x0000}, {0x7fffffffffffffff, 0x8000},  // denormals
      {0x8000000000000000, 0x0001}, {0xffffffffffffffff, 0x7ffe},  // smallest, largest
      {0x8000000000000000, 0x401e}, {0xffffffffffffffff, 0x403d},  // 2^31, below 2^63
      {0x8000000000000000, 0x403e}, {0xfffffffffffff800, 0x43fe},  // 2^63, DBL_MAX
      {0x8000000000000000, 0x3c01}, {0xffffff0000000000, 0x407e},  // DBL_MIN, FLT_MAX
      {0x0123456789abcdef, 0x4005},                                // unnormal (unsupported)
      {0x0000000000000000, 0x7fff},                                // pseudo-infinity
      {0x4000000000000000, 0x7fff},                                // pseudo-NaN
      {0xfffffffffffff800, 0x3ffe}, {0x8000000000000400, 0x3fff},  // rounding ties
  };
  std::array<uint8_t, 10> out{};
  uint64_t significand;
  uint16_t se;
  const uint64_t roll = rng.below(100);
  if (roll < 50) {
    const auto& e = pick(rng, kEdges);
    significand = e.significand;
    se = e.se;
  } else if (roll < 70) {  // a normal value near 1 with random low bits
    significand = rng.next() | (uint64_t{1} << 63);
    se = static_cast<uint16_t>(0x3ff0 + rng.below(0x20)) | (rng.chance(50) ? 0x8000 : 0);
  } else if (roll < 85) {  // small integers (FIST, FRNDINT, FPREM)
    const long v = static_cast<long>(rng.below(2001)) - 1000;
    long double ld = static_cast<long double>(v) / (rng.chance(70) ? 1 : 4);
    std::memcpy(out.data(), &ld, 10);
    return out;
  } else {  // any normal
    significand = rng.next() | (uint64_t{1} << 63);
    se = static_cast<uint16_t>(1 + rng.below(0x7ffe)) | (rng.chance(50) ? 0x8000 : 0);
  }
  std::memcpy(out.data(), &significand, 8);
  std::memcpy(out.data() + 8, &se, 2);
  return out;
}

}  // namespace densevm::diff
