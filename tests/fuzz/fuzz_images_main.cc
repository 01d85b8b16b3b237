// Driver for fuzz_images.cc when building with gcc (no libFuzzer): valid seeds of every format
// the planner reads — a densevm snapshot and a diff-free chain of one, a QEMU-layout ELF core,
// a raw RAM file, a fingerprint file, a cpio archive — each mutated many times by a seeded
// PRNG (bytes flipped, fields set to edge values, truncated, chunks repeated), then every
// file named on the command line, or in a directory named (a corpus), as it is.
// `--write-seeds DIR` writes the seeds to DIR instead (seed_0 ...): corpus/images, where
// libFuzzer starts.
//
//   densevm_fuzz_images --runs 4000 --seed 1 corpus/images crash-input.bin
//   densevm_fuzz_images --write-seeds tests/fuzz/corpus/images
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cow-snapshots/snapshot_file.h"
#include "planner/fingerprint_file.h"
#include "planner/internal/test_elf_core.h"
#include "planner/internal/test_fingerprints.h"
#include "tests/fuzz/driver_support.h"
#include "tests/support/tiny_elf.h"
#include "vmm/elf_loader.h"
#include "vmm/vm_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

using namespace densevm;

using densevm::testing::splitmix;

std::vector<uint8_t> with_reader(uint8_t reader, std::vector<uint8_t> file) {
  file.insert(file.begin(), reader);
  return file;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<std::vector<uint8_t>> seeds() {
  std::vector<std::vector<uint8_t>> out;
  // A snapshot of a small VM with a few pages written.
  FrameStore frames(uint64_t{1} << 28);
  Vm vm(frames, parse_elf(testing::tiny_elf({0xf4})), VmConfig{.id = 0, .mem_bytes = 8 << 20, .cmdline = ""},
        [](int, std::string_view) {});
  for (uint8_t i = 1; i < 4; ++i) {
    const std::vector<uint8_t> page(4096, i);
    (void)vm.memory().write(Gpa{0x200000 + i * 4096u}, page.data(), page.size());
  }
  SaveStats stats;
  out.push_back(with_reader(0, encode_vm(vm, {}, stats)));
  out.push_back(with_reader(0, encode_vm(vm, {.compress = true, .parent = nullptr, .parent_name = {}}, stats)));
  // A QEMU dump of two RAM blocks, with a zero tail, and a raw RAM file.
  std::vector<uint8_t> block(3 * 4096, 7);
  block[5000] = 1;
  out.push_back(with_reader(0, planner::testing::elf_core({{0, block, 4 * 4096}, {0x100000, block, 3 * 4096}},
                                                          {"CORE", "QEMU", "VMCOREINFO"})));
  out.push_back(with_reader(0, planner::testing::elf_core({{0, block, 3 * 4096}}, {"QEMU"}, ET_CORE, true)));
  out.push_back(with_reader(1, block));
  // A fingerprint file.
  const std::string fp_path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + "/densevm-fuzz-seed.fp";
  planner::write_fingerprint(planner::testing::mixed_vm("seed", 10, 20, 30, 0, 100, 16), fp_path);
  out.push_back(with_reader(2, read_all(fp_path)));
  std::remove(fp_path.c_str());
  // A cpio archive of one file, and an ELF executable.
  std::vector<uint8_t> cpio;
  auto entry = [&cpio](const std::string& name, uint32_t mode, const std::vector<uint8_t>& data) {
    char h[111];
    std::snprintf(h, sizeof h, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", 1u, mode, 0u, 0u, 1u, 0u,
                  static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u, name.size() + 1, 0u);
    cpio.insert(cpio.end(), h, h + 110);
    cpio.insert(cpio.end(), name.begin(), name.end());
    cpio.push_back(0);
    while (cpio.size() % 4) cpio.push_back(0);
    cpio.insert(cpio.end(), data.begin(), data.end());
    while (cpio.size() % 4) cpio.push_back(0);
  };
  entry("bin/busybox", 0100755, block);
  entry("TRAILER!!!", 0, {});
  out.push_back(with_reader(3, cpio));
  out.push_back(with_reader(3, testing::tiny_elf(block)));
  return out;
}

// Flips, edge values, truncation or a repeated chunk; the reader byte stays.
std::vector<uint8_t> mutate(std::vector<uint8_t> in, uint64_t& state) {
  const size_t n = in.size() - 1;
  const unsigned rounds = 1 + splitmix(state) % 4;
  for (unsigned r = 0; r < rounds && n > 0; ++r) {
    const size_t at = 1 + splitmix(state) % n;
    switch (splitmix(state) % 5) {
      case 0:
        in[at] ^= static_cast<uint8_t>(1u << (splitmix(state) % 8));
        break;
      case 1: {
        static constexpr uint64_t kEdges[] = {0, 1, 0xff, 0xffff, 0xffffffff, ~uint64_t{0}, uint64_t{1} << 40, 0x7fffffff};
        const uint64_t v = kEdges[splitmix(state) % std::size(kEdges)];
        const size_t width = splitmix(state) % 2 ? 8 : 4;
        for (size_t i = 0; i < width && at + i < in.size(); ++i) in[at + i] = static_cast<uint8_t>(v >> (8 * i));
        break;
      }
      case 2:
        in.resize(at);
        return in;
      case 3:
        in[at] = static_cast<uint8_t>(splitmix(state));
        break;
      default: {
        const size_t len = std::min<size_t>(1 + splitmix(state) % 64, in.size() - at);
        const std::vector<uint8_t> chunk(in.begin() + static_cast<std::ptrdiff_t>(at),
                                         in.begin() + static_cast<std::ptrdiff_t>(at + len));
        in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), chunk.begin(), chunk.end());
        break;
      }
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 4000, seed = 1;
  const char* seeds_dir = nullptr;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc) {
      seeds_dir = argv[++i];
    } else if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::strtoull(argv[++i], nullptr, 10);
    } else if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else {
      files.push_back(argv[i]);
    }
  }
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::vector<uint8_t>> corpus = seeds();
  if (seeds_dir != nullptr) {
    for (size_t i = 0; i < corpus.size(); ++i) {
      const std::string path = std::string(seeds_dir) + "/seed_" + std::to_string(i);
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(corpus[i].data()), static_cast<std::streamsize>(corpus[i].size()));
      if (!out.flush()) {
        std::fprintf(stderr, "fuzz_images: cannot write %s\n", path.c_str());
        return 1;
      }
    }
    std::printf("fuzz_images: %zu seeds written to %s\n", corpus.size(), seeds_dir);
    return 0;
  }
  for (const auto& s : corpus) LLVMFuzzerTestOneInput(s.data(), s.size());  // the seeds as they are
  uint64_t state = seed;
  for (uint64_t i = 0; i < runs; ++i) {
    const std::vector<uint8_t> input = mutate(corpus[i % corpus.size()], state);
    LLVMFuzzerTestOneInput(input.data(), input.size());
  }
  size_t file_count = 0;
  const bool read = densevm::testing::for_each_input_file(files, "fuzz_images", [&](const std::vector<uint8_t>& input) {
    LLVMFuzzerTestOneInput(input.data(), input.size());
    ++file_count;
  });
  if (!read) return 1;
  std::printf("fuzz_images: %zu seeds, %llu mutated inputs, %zu files in %.1f s\n", corpus.size(),
              static_cast<unsigned long long>(runs), file_count,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return 0;
}
