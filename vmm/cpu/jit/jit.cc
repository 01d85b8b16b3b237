#include "vmm/cpu/jit/jit.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>

namespace densevm::cpu::jit {

std::unique_ptr<Jit> Jit::create(const Vcpu& vcpu, const Config& config, std::string* error) {
  // A quarter for the records (blocks, instruction copies, index), the rest for code.
  std::unique_ptr<CodeArena> arena = CodeArena::create(config.cache_bytes / 4 * 3, error);
  if (arena != nullptr && config.cache_bytes - arena->capacity() < 2 * BlockCache::kMaxBlockGrowth + (64 << 10)) {
    *error = "a translation cache of " + std::to_string(config.cache_bytes) + " bytes is too small";
    return nullptr;
  }
  if (arena == nullptr) return nullptr;
  std::unique_ptr<Jit> jit(new Jit(vcpu, config, std::move(arena)));
  if (!jit->translator_.emit_stubs(*jit->arena_)) {
    *error = "the code arena cannot hold the translator's stubs";
    return nullptr;
  }
  jit->stub_bytes_ = jit->arena_->used();
  if (std::getenv("DENSEVM_PERF_MAP") != nullptr) {
    jit->perf_map_ = true;
    const uint8_t* stubs = jit->arena_->cursor() - jit->stub_bytes_;
    jit->perf_record(stubs, static_cast<uint32_t>(jit->stub_bytes_), "stubs");
  }
  return jit;
}

Jit::Jit(const Vcpu& vcpu, const Config& config, std::unique_ptr<CodeArena> arena)
    : config_(config), layout_(VcpuAccess::layout(vcpu)), arena_(std::move(arena)) {}

const Block* Jit::block_at(uint64_t gpa_page, unsigned offset, const uint8_t* host) {
  const uint64_t gpa = (gpa_page << 12) | offset;
  BlockCache::Entry& e = cache_.entry(gpa);
  Block* b = e.block;
  if (b == nullptr && e.heat == 0 && shared_ != nullptr) {  // first sight: the template's?
    b = shared_block(gpa, host);
    if (b != nullptr) {
      e.block = b;
      e.shared = true;
      ++stats_.shared_reused;
    }
  }
  if (b == nullptr) {
    if (e.heat < config_.hot_threshold) {
      ++e.heat;
      pending_chain_ = nullptr;
      return nullptr;
    }
    b = translate(gpa, offset, host);
  }
  if (b->code == nullptr) {
    pending_chain_ = nullptr;
    return nullptr;
  }
  if (pending_chain_ != nullptr) chain_to(*b);
  return b;
}

Block* Jit::translate(uint64_t gpa, unsigned offset, const uint8_t* host) {
  const auto start = std::chrono::steady_clock::now();
  // Code and records stay within cache_bytes: the arena holds the code, the rest the records.
  if (cache_.metadata_bytes() + BlockCache::kMaxBlockGrowth > config_.cache_bytes - arena_->capacity()) {
    flush();
    ++stats_.flushes;
  }
  Block* b = cache_.new_block(gpa);
  Translator::Result r = translator_.translate(host, offset, *b, cache_, *arena_);
  if (r == Translator::Result::kFull) {
    flush();  // the entry and block went with it: make them again
    ++stats_.flushes;
    b = cache_.new_block(gpa);
    r = translator_.translate(host, offset, *b, cache_, *arena_);
  }
  b->page = host;
  if (r == Translator::Result::kOk) {
    ++stats_.blocks_translated;
    stats_.instructions_translated += b->count;
    if (perf_map_) {
      char name[32];
      std::snprintf(name, sizeof name, "guest_%llx", static_cast<unsigned long long>(gpa));
      perf_record(b->code, b->code_bytes, name);
    }
  } else {
    b->code = nullptr;  // interpreted from now on (until the page changes)
  }
  cache_.entry(gpa).block = b;
  stats_.translate_ns += static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                           start)
          .count());
  return b;
}

namespace {

// The process's perf map files, opened at the first record. Each VM has its translator,
// and VMs translate on the scheduler's threads: a line is formatted whole, then written
// under the lock through the one FILE of each file, so lines never interleave (a FILE per
// translator broke lines where another's buffer was flushed into them).
struct PerfMap {
  std::mutex lock;
  FILE* map = nullptr;
  FILE* code = nullptr;  // DENSEVM_PERF_MAP=code
  PerfMap() {
    const std::string stem = "/tmp/perf-" + std::to_string(getpid());
    map = std::fopen((stem + ".map").c_str(), "a");
    const char* mode = std::getenv("DENSEVM_PERF_MAP");
    if (mode != nullptr && std::string_view(mode) == "code") {
      code = std::fopen((stem + ".code").c_str(), "a");
    }
  }
  ~PerfMap() {
    if (map != nullptr) std::fclose(map);
    if (code != nullptr) std::fclose(code);
  }
};

}  // namespace

void Jit::perf_record(const uint8_t* code, uint32_t bytes, const char* name) {
  static PerfMap files;
  const auto at = static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(code));
  char line[96];
  const int n = std::snprintf(line, sizeof line, "%llx %x %s\n", at, bytes, name);
  std::string hex;  // "<host address> <name> <code in hex>"
  if (files.code != nullptr) {
    char head[96];
    const int h = std::snprintf(head, sizeof head, "%llx %s ", at, name);
    hex.reserve(static_cast<size_t>(h) + 2 * size_t{bytes} + 1);
    hex.append(head, static_cast<size_t>(h));
    static constexpr char kDigits[] = "0123456789abcdef";
    for (uint32_t i = 0; i < bytes; ++i) {
      hex += kDigits[code[i] >> 4];
      hex += kDigits[code[i] & 15];
    }
    hex += '\n';
  }
  // Flushed at once: a VM killed (or a test reading the file) sees every block so far.
  const std::lock_guard<std::mutex> hold(files.lock);
  if (files.map != nullptr) {
    std::fwrite(line, 1, static_cast<size_t>(n), files.map);
    std::fflush(files.map);
  }
  if (!hex.empty()) {
    std::fwrite(hex.data(), 1, hex.size(), files.code);
    std::fflush(files.code);
  }
}

// The previous run left through an unpatched direct jump to here (same page, same offset):
// patch it so the next run goes straight on.
void Jit::chain_to(const Block& target) {
  ChainSlot& slot = *pending_chain_;
  pending_chain_ = nullptr;
  const Block& from = *slot.from;
  // A shared block's code is the frozen VM's, run by its clones on other threads: never
  // patched (it leaves through the dispatcher, which finds the target).
  if (!arena_->contains(from.code)) return;
  if (!from.live || !target.live || slot.chained || (from.gpa >> 12) != (target.gpa >> 12) ||
      (target.gpa & 0xfff) != slot.target) {
    return;
  }
  const uint8_t* at = from.code + slot.rel32_at;
  const auto rel = static_cast<int32_t>(target.code - (at + 4));
  auto* word = reinterpret_cast<int32_t*>(arena_->writable(at));
  __atomic_store_n(word, rel, __ATOMIC_RELEASE);  // aligned: one store, whole or not at all
  slot.chained = true;
  ++stats_.chained;
}

bool Jit::run(Vcpu& vcpu, const Block& block, uint64_t page_va, uint64_t limit) {
  ++stats_.entries;
  const uint64_t r = translator_.enter()(&vcpu, block.code, page_va, limit);
  pending_chain_ = nullptr;
  if (r == 0) return false;
  if (r == 1) return true;
  pending_chain_ = reinterpret_cast<ChainSlot*>(r);
  return false;
}

void Jit::share_from(const Jit& frozen, std::shared_ptr<const void> keep) {
  if (!config_.share || &frozen == this) return;
  shared_ = &frozen;
  shared_keep_ = std::move(keep);
}

// The frozen VM's frames never change and it holds them, so a clone mapping one at `gpa`'s
// page sees exactly the bytes the block was translated from; a clone that wrote the page got
// a copy (another frame), and any other frame fails the check too, whatever its bytes.
Block* Jit::shared_block(uint64_t gpa, const uint8_t* host) const {
  const BlockCache::Entry* e = shared_->cache_.peek(gpa);
  if (e == nullptr || e->block == nullptr || e->block->page != host) return nullptr;
  return e->block;
}

void Jit::invalidate_page(uint64_t gpa_page) {
  const size_t died = cache_.invalidate_page(gpa_page);
  stats_.blocks_invalidated += died;
  if (died != 0) pending_chain_ = nullptr;
}

void Jit::flush() {
  cache_.clear();
  arena_->reset(stub_bytes_);
  pending_chain_ = nullptr;
}

Stats Jit::stats() const {
  Stats s = stats_;
  s.cache_bytes = arena_->used() + cache_.metadata_bytes();
  if (shared_ != nullptr) s.shared_bytes = shared_->arena_->used() + shared_->cache_.metadata_bytes();
  return s;
}

}  // namespace densevm::cpu::jit
