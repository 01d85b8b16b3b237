// The content fingerprint of a guest page: XXH3-64 over its 4 KiB, plus the all-zero page.
//
// A fingerprint only nominates merge candidates; pages are merged after a full memcmp, so
// the scanner takes the hash function as a parameter and tests can force collisions.
//
//   PageHash hash = xxh3_page;
//   uint64_t h = hash(frames.host_ptr(hpa));
//   bool zero = h == hash(zero_page()) && page_is_zero(frames.host_ptr(hpa));
#pragma once

#include <cstdint>

namespace densevm {

using PageHash = uint64_t (*)(const uint8_t* page);

[[nodiscard]] uint64_t xxh3_page(const uint8_t* page);

// 4 KiB of zero bytes, for hashing and comparing against.
[[nodiscard]] const uint8_t* zero_page();
[[nodiscard]] bool page_is_zero(const uint8_t* page);

}  // namespace densevm
