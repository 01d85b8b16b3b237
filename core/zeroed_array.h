// ZeroedArray<T>: n values of T in fresh anonymous memory, all-zero bytes until written.
//
// Nothing is written to make them zero, so a page of the array costs its first-touch fault
// when something first touches it, not when the array is made. A std::vector writes every
// element up front: a 1 GiB guest's table of one uint32_t per page is 256 faults, about
// 5 ms on a host where a fault costs 20 us (bench/fault_cost prints the host's), all of it
// before a restored VM runs its first instruction. For T whose all-zero bytes are a valid
// value with nothing to destroy: integers, and std::atomic of lock-free integers (their
// representation is the integer's; FrameStore's refcounts rely on the same).
//
//   ZeroedArray<std::atomic<uint64_t>> frame_of(stored_pages);  // every element reads 0
//   frame_of[7].store(hpa.value());
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>
#include <system_error>
#include <type_traits>
#include <utility>

namespace densevm {

template <typename T>
class ZeroedArray {
  static_assert(std::is_trivially_destructible_v<T>, "nothing is destroyed: the pages are unmapped");

 public:
  ZeroedArray() = default;
  // Throws std::system_error if the kernel refuses the mapping.
  explicit ZeroedArray(size_t n) : size_(n) {
    if (n == 0) return;
    void* p = mmap(nullptr, bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "ZeroedArray mmap");
    data_ = static_cast<T*>(p);
  }
  ZeroedArray(ZeroedArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  ZeroedArray& operator=(ZeroedArray&& other) noexcept {
    if (this != &other) {
      unmap();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ZeroedArray(const ZeroedArray&) = delete;
  ZeroedArray& operator=(const ZeroedArray&) = delete;
  ~ZeroedArray() { unmap(); }

  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] T& operator[](size_t i) { return data_[i]; }
  [[nodiscard]] const T& operator[](size_t i) const { return data_[i]; }

 private:
  [[nodiscard]] size_t bytes() const { return size_ * sizeof(T); }
  void unmap() {
    if (data_ != nullptr) munmap(data_, bytes());
  }

  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace densevm
