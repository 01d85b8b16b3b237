#include "vmm/cpu/decode_cache.h"

namespace densevm::cpu {

DecodedPage::DecodedPage(uint64_t& held) : held_(held) { add_bytes(sizeof(DecodedPage)); }

DecodedPage::~DecodedPage() { held_ -= bytes_; }

void DecodedPage::add_bytes(uint64_t n) {
  bytes_ += n;
  held_ += n;
}

const DecodedInsn* DecodedPage::insert(unsigned offset, const DecodedInsn& insn) {
  std::unique_ptr<Line>& line = lines_[offset / kLineBytes];
  if (line == nullptr) {
    line = std::make_unique<Line>();
    add_bytes(sizeof(Line));
  }
  uint16_t& number = line->record[offset % kLineBytes];
  if (number == 0) {
    // One record per offset: at most kPageBytes records, so the number fits.
    if (records_ == chunks_.size() * kChunk) {
      const size_t capacity = chunks_.capacity();
      chunks_.push_back(std::make_unique<DecodedInsn[]>(kChunk));
      add_bytes(kChunk * sizeof(DecodedInsn) + (chunks_.capacity() - capacity) * sizeof(chunks_[0]));
    }
    number = static_cast<uint16_t>(++records_);
  }
  DecodedInsn* rec = record(number - 1u);
  *rec = insn;
  return rec;
}

void DecodedPage::reset() {
  for (std::unique_ptr<Line>& line : lines_) {
    if (line != nullptr) line->record.fill(0);
  }
  records_ = 0;
  stale_ = false;
}

DecodedPage* DecodeCache::get(uint64_t gpa_page) {
  DecodedPage* page;
  if (gpa_page == last_gpa_page_) {
    page = last_;
  } else {
    if (held_ > max_bytes_) {
      clear();
      ++flushes_;
    }
    auto& entry = pages_[gpa_page];
    if (!entry) entry = std::make_unique<DecodedPage>(held_);
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
  // A map node: the key, the pointer, the next link and the cached hash; and the buckets.
  return held_ + pages_.size() * 4 * sizeof(uint64_t) + pages_.bucket_count() * sizeof(void*);
}

void DecodeCache::clear() {
  pages_.clear();
  last_gpa_page_ = ~uint64_t{0};
  last_ = nullptr;
}

}  // namespace densevm::cpu
