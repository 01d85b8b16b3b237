// Driver for LLVMFuzzerTestOneInput when building with gcc (no libFuzzer): runs a fixed,
// seeded set of random byte strings, then every file named on the command line, or every
// file in a directory named (a corpus), then --mutations seeded mutants of those files (for
// structured inputs, such as snapshot files, that random bytes never get into), and prints
// what ran (fuzz_stats.h).
//
//   densevm_fuzz_flat_vm --runs 20000 --seed 1 tests/fuzz/corpus/flat_vm crash-input.bin
//   densevm_fuzz_snapshot --runs 0 --mutations 2000 --seed 1 tests/fuzz/corpus/snapshot
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "tests/fuzz/driver_support.h"
#include "tests/fuzz/fuzz_stats.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using densevm::testing::splitmix;

// Half the inputs are plain random bytes; the other half draw many bytes from opcodes and
// prefixes compilers use, so more inputs decode into longer runs of real instructions.
std::vector<uint8_t> make_input(uint64_t& state) {
  static constexpr uint8_t kCommon[] = {
      0x48, 0x49, 0x4C, 0x4D, 0x41, 0x66, 0xF3, 0xF2, 0xF0, 0x0F, 0x89, 0x8B, 0x01, 0x03,
      0x29, 0x2B, 0x31, 0x33, 0x39, 0x3B, 0x85, 0x8D, 0x83, 0x81, 0xC1, 0xD1, 0xD3, 0xF7,
      0xFF, 0x50, 0x58, 0x74, 0x75, 0xEB, 0xE8, 0xC3, 0xA4, 0xA5, 0xAA, 0xAB, 0xB8, 0xC7,
      // x87 (D8..DF, FWAIT) and SSE second bytes (MOVAPS ADDPS MULPS DIVPS PXOR MOVDQA/U,
      // CMPPS, FXSAVE/LDMXCSR group)
      0xD8, 0xD9, 0xDA, 0xDB, 0xDC, 0xDD, 0xDE, 0xDF, 0x9B, 0x28, 0x58, 0x59, 0x5E, 0xEF,
      0x6F, 0x7F, 0xC2, 0xAE};
  const size_t length = 1 + splitmix(state) % 256;
  const bool biased = splitmix(state) & 1;
  std::vector<uint8_t> input(length);
  for (uint8_t& byte : input) {
    const uint64_t r = splitmix(state);
    byte = biased && (r >> 32) % 3 == 0 ? kCommon[(r >> 8) % sizeof kCommon]
                                        : static_cast<uint8_t>(r);
  }
  return input;
}

// A copy of `base` with 1 to 8 random edits: a byte set, a bit flipped, a u32 made 0, 1 or
// all-ones (lengths, counts, indexes), a range dropped, or the end cut off. The first byte
// (the targets' mode byte) is edited like the rest.
std::vector<uint8_t> mutate(const std::vector<uint8_t>& base, uint64_t& state) {
  std::vector<uint8_t> input = base;
  const unsigned edits = 1 + splitmix(state) % 8;
  for (unsigned e = 0; e < edits && !input.empty(); ++e) {
    const uint64_t r = splitmix(state);
    const size_t at = (r >> 8) % input.size();
    switch (r % 6) {
      case 0: input[at] = static_cast<uint8_t>(r >> 40); break;
      case 1: input[at] ^= static_cast<uint8_t>(1u << ((r >> 40) % 8)); break;
      case 2:
      case 3: {
        static constexpr uint32_t kValues[] = {0, 1, 0xffffffffu, 0x1000};
        const uint32_t v = kValues[(r >> 40) % 4];
        if (at + 4 <= input.size()) std::memcpy(input.data() + at, &v, 4);
        break;
      }
      case 4: {
        const size_t n = std::min<size_t>(input.size() - at, 1 + (r >> 40) % 64);
        input.erase(input.begin() + static_cast<long>(at), input.begin() + static_cast<long>(at + n));
        break;
      }
      default: input.resize(at); break;
    }
  }
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 20000, mutations = 0, seed = 1;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
      mutations = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      files.push_back(argv[i]);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t state = seed;
  for (uint64_t i = 0; i < runs; ++i) {
    const std::vector<uint8_t> input = make_input(state);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  size_t file_count = 0;
  std::vector<std::vector<uint8_t>> corpus;
  const bool read = densevm::testing::for_each_input_file(files, argv[0], [&](const std::vector<uint8_t>& input) {
    LLVMFuzzerTestOneInput(input.data(), input.size());
    ++file_count;
    if (mutations != 0) corpus.push_back(input);
  });
  if (!read) return 1;
  for (uint64_t i = 0; i < mutations && !corpus.empty(); ++i) {
    const std::vector<uint8_t> input = mutate(corpus[splitmix(state) % corpus.size()], state);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%s: %llu random inputs (seed %llu), %zu files and %llu mutants of them in %.1f s\n", argv[0],
              static_cast<unsigned long long>(runs), static_cast<unsigned long long>(seed), file_count,
              static_cast<unsigned long long>(corpus.empty() ? 0 : mutations), seconds);
  densevm::testing::print_fuzz_stats(stdout);
  return 0;
}
