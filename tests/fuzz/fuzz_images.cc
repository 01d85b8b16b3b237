// libFuzzer-style target: the planner's readers of untrusted files — memory images (densevm
// snapshots, QEMU dump-guest-memory cores, raw RAM), fingerprint files and reference files
// (cpio archives, ELF files) — on arbitrary bytes. The first byte picks the reader, the rest
// is the file. A reader must return or throw std::runtime_error (its one-line refusal);
// anything else — another exception, a huge allocation, a crash, a sanitizer report — aborts,
// which is how a fuzzer recognises a finding. fuzz_images_main.cc mutates valid seeds.
//
//   LLVMFuzzerTestOneInput(bytes, size);  // returns 0 or aborts with a message
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>

#include "planner/fingerprint_file.h"
#include "planner/memory_image.h"
#include "planner/reference_pages.h"

namespace {

// The file each input is written to, memory-backed where there is such a place; removed at exit.
struct Scratch {
  Scratch() {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp";
    path = std::string(dir) + "/densevm-fuzz-images-" + std::to_string(::getpid());
  }
  ~Scratch() { std::remove(path.c_str()); }
  std::string path;
};

const std::string& scratch() {
  static const Scratch s;
  return s.path;
}

void write_file(const uint8_t* data, size_t size) {
  std::ofstream out(scratch(), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  write_file(data + 1, size - 1);
  using namespace densevm::planner;
  try {
    switch (data[0] % 4) {
      case 0:
        (void)fingerprint_image(scratch());
        break;
      case 1:
        (void)fingerprint_image("raw:" + scratch());
        break;
      case 2:
        (void)read_fingerprint(scratch(), /*with_pages=*/true);
        break;
      default:
        (void)read_reference("fuzz", scratch());
        break;
    }
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "fuzz_images: reader %d allocated without bound on a %zu-byte input\n", data[0] % 4, size - 1);
    std::abort();
  } catch (const std::runtime_error&) {
    // A refusal: what bad input gets.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_images: reader %d threw %s, not a refusal\n", data[0] % 4, e.what());
    std::abort();
  }
  return 0;
}
