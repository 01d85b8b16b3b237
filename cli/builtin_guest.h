// The guest kernel built from guest-tools/, embedded in the densevm binary (builtin_guest.S)
// so `densevm run` needs no file beside it.
//
//   std::span<const uint8_t> elf = builtin_guest_image();
#pragma once

#include <cstdint>
#include <span>

extern "C" const uint8_t densevm_builtin_guest_start[];
extern "C" const uint8_t densevm_builtin_guest_end[];

namespace densevm::cli {

inline std::span<const uint8_t> builtin_guest_image() {
  return {densevm_builtin_guest_start, densevm_builtin_guest_end};
}

}  // namespace densevm::cli
