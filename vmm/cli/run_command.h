// `densevm run`: boots the guests, runs them to the end, prints their consoles and writes
// the statistics document. Returns the process exit status.
//
//   RunOptions o = parse_run_options(args);
//   return run_command(o, builtin_guest_image());
#pragma once

#include <cstdint>
#include <span>

#include "vmm/cli/options.h"

namespace densevm {

// Throws std::runtime_error (one line) for bad host input: unreadable or non-ELF guest,
// a guest that does not fit in --mem, an unwritable stats path.
[[nodiscard]] int run_command(const RunOptions& options, std::span<const uint8_t> builtin_guest);

}  // namespace densevm
