// Fingerprint files (planner/FORMAT.md): a versioned header, then checksummed sections —
// info, ranges, sketch, position samples, and last the per-page hashes (zstd), so that a
// fleet-scale plan reads only the small sections of each file and never the pages.
// Written through an AtomicFile: a file under its final name is always whole.
//
//   write_fingerprint(fp, "out/vm0.fp");                         // throws std::runtime_error
//   Fingerprint light = read_fingerprint("out/vm0.fp", false);   // no page_hashes
//   Fingerprint full = read_fingerprint("out/vm0.fp", true);     // FingerprintError if bad
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "planner/fingerprint.h"

namespace densevm::planner {

// Bad fingerprint input: the message is the one line the CLI shows.
struct FingerprintError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr std::array<uint8_t, 8> kFingerprintMagic = {'D', 'V', 'M', 'F', 'P', 'R', 'T', 0};
inline constexpr uint32_t kFingerprintVersion = 1;
inline constexpr uint32_t kFingerprintCompressed = 1u << 0;  // the pages section is one zstd frame

void write_fingerprint(const Fingerprint& fp, const std::string& path);
// with_pages = false stops before the pages section: page_hashes stays empty.
[[nodiscard]] Fingerprint read_fingerprint(const std::string& path, bool with_pages);

}  // namespace densevm::planner
