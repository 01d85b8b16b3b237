#include "vmm/cpu/decode_cache.h"

#include <algorithm>

namespace densevm::cpu {

const DecodedInsn* DecodedPage::insert(unsigned offset, const DecodedInsn& insn) {
  if (used_in_last_ == kChunk) {
    chunks_.push_back(std::make_unique<DecodedInsn[]>(kChunk));
    used_in_last_ = 0;
  }
  DecodedInsn* rec = &chunks_.back()[used_in_last_++];
  *rec = insn;
  slots_[offset] = rec;
  return rec;
}

uint64_t DecodedPage::bytes() const {
  return sizeof(DecodedPage) + uint64_t{kPageBytes} * sizeof(const DecodedInsn*) +
         chunks_.capacity() * sizeof(chunks_[0]) + chunks_.size() * uint64_t{kChunk} * sizeof(DecodedInsn);
}

void DecodedPage::reset() {
  std::fill_n(slots_.get(), kPageBytes, nullptr);
  // Keep one chunk for reuse; the page is likely to be decoded again.
  if (chunks_.size() > 1) chunks_.resize(1);
  used_in_last_ = chunks_.empty() ? kChunk : 0;
  stale_ = false;
}

DecodedPage* DecodeCache::get(uint64_t gpa_page) {
  DecodedPage* page;
  if (gpa_page == last_gpa_page_) {
    page = last_;
  } else {
    auto& entry = pages_[gpa_page];
    if (!entry) entry = std::make_unique<DecodedPage>();
    page = entry.get();
    last_gpa_page_ = gpa_page;
    last_ = page;
  }
  if (page->stale_) page->reset();
  return page;
}

bool DecodeCache::invalidate(uint64_t gpa_page) {
  auto it = pages_.find(gpa_page);
  if (it == pages_.end()) return false;
  it->second->stale_ = true;
  return true;
}

uint64_t DecodeCache::bytes() const {
  // A map node: the key, the pointer, the next link and the cached hash.
  uint64_t total = pages_.bucket_count() * sizeof(void*) + pages_.size() * 4 * sizeof(uint64_t);
  for (const auto& [gpa_page, page] : pages_) total += page->bytes();
  return total;
}

void DecodeCache::clear() {
  pages_.clear();
  last_gpa_page_ = ~uint64_t{0};
  last_ = nullptr;
}

}  // namespace densevm::cpu
