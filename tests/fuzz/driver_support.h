// What the two gcc fuzz drivers (fuzz_main.cc, fuzz_images_main.cc) share: the seeded
// random stream their inputs come from, and reading the files named on their command line
// (a file, or every file of a directory, a corpus, in name order).
//
//   uint64_t state = seed;
//   const uint64_t r = densevm::testing::splitmix(state);
//   if (!densevm::testing::for_each_input_file(files, argv[0], [&](const std::vector<uint8_t>& in) { ... }))
//     return 1;  // a file could not be read (one line on stderr)
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace densevm::testing {

// SplitMix64: a fixed sequence for a seed, the same on every host.
inline uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

// Calls fn with the bytes of every file `names` stand for, in order; false (after one line on
// stderr, naming `who`) when one cannot be read.
template <typename Fn>
bool for_each_input_file(const std::vector<const char*>& names, const char* who, Fn&& fn) {
  for (const char* name : names) {
    std::vector<std::filesystem::path> paths;
    std::error_code error;
    if (std::filesystem::is_directory(name, error)) {
      for (const auto& entry : std::filesystem::directory_iterator(name, error)) paths.push_back(entry.path());
      std::sort(paths.begin(), paths.end());
    } else {
      paths.emplace_back(name);
    }
    for (const auto& path : paths) {
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "%s: cannot read %s\n", who, path.c_str());
        return false;
      }
      const std::vector<uint8_t> input{std::istreambuf_iterator<char>(in), {}};
      fn(input);
    }
  }
  return true;
}

}  // namespace densevm::testing
