#include "dedup/page_hash.h"

#include <xxhash.h>

#include <cstring>

#include "core/types.h"

namespace densevm {
namespace {

alignas(64) const uint8_t kZeroPage[kPageSize] = {};

}  // namespace

uint64_t xxh3_page(const uint8_t* page) { return XXH3_64bits(page, kPageSize); }

const uint8_t* zero_page() { return kZeroPage; }

bool page_is_zero(const uint8_t* page) { return std::memcmp(page, kZeroPage, kPageSize) == 0; }

}  // namespace densevm
