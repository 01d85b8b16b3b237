// CodeArena: host memory for translated code, bounded and never writable and executable
// at once.
//
// One memfd is mapped twice: an executable view (RX), where code runs and which every
// address in translated code names, and a writable view (RW) at another address, through
// which code is written and chained. Allocation is a bump pointer; when the arena is full
// its owner drops every translation and resets it (as QEMU's tb_flush does). The RX view is
// placed near this binary when the host allows it, so calls from translated code into the
// vCPU's handlers are direct rel32 calls.
//
//   std::unique_ptr<CodeArena> arena = CodeArena::create(16 << 20, &error);
//   uint8_t* rx = arena->allocate(n);               // nullptr: full
//   std::memcpy(arena->writable(rx), bytes, n);
//   arena->reset(kept);                             // back to the first `kept` bytes
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace densevm::cpu::jit {

class CodeArena {
 public:
  static constexpr size_t kAlign = 16;

  // nullptr, with `error` saying why, when the host refuses the mappings.
  [[nodiscard]] static std::unique_ptr<CodeArena> create(size_t bytes, std::string* error);
  ~CodeArena();
  CodeArena(const CodeArena&) = delete;
  CodeArena& operator=(const CodeArena&) = delete;

  // Where the next allocation starts (what an assembler is told its code will run at).
  [[nodiscard]] uint8_t* cursor() const { return rx_ + used_; }
  [[nodiscard]] size_t available() const { return capacity_ - used_; }
  // `n` bytes at cursor(), or nullptr if they do not fit.
  [[nodiscard]] uint8_t* allocate(size_t n);
  // The RW alias of an RX address in this arena.
  [[nodiscard]] uint8_t* writable(const uint8_t* rx) const {
    return rw_ + (rx - rx_);
  }
  [[nodiscard]] bool contains(const void* p) const {
    const auto* b = static_cast<const uint8_t*>(p);
    return b >= rx_ && b < rx_ + capacity_;
  }
  // Forgets everything past the first `keep` bytes and gives their memory back to the host.
  void reset(size_t keep);
  [[nodiscard]] size_t used() const { return used_; }
  [[nodiscard]] size_t capacity() const { return capacity_; }

 private:
  CodeArena(uint8_t* rx, uint8_t* rw, size_t mapped, size_t capacity)
      : rx_(rx), rw_(rw), mapped_(mapped), capacity_(capacity) {}

  uint8_t* rx_;
  uint8_t* rw_;
  size_t mapped_;    // both views' length
  size_t capacity_;  // what allocate hands out, at most mapped_
  size_t used_ = 0;
};

}  // namespace densevm::cpu::jit
