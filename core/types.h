// Address types of the three address spaces densevm deals in, and page constants.
//
// Gva (guest virtual), Gpa (guest physical) and Hpa (host frame address: FrameStore
// index times 4 KiB) are distinct types: none converts implicitly to another or to an
// integer, so an EPT function cannot be handed a guest virtual address.
//
//   Gpa gpa{0x1000};
//   Gpa next = gpa + kPageSize;          // offsetting keeps the type
//   uint64_t pfn = gpa.page_number();    // explicit way out
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace densevm {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kPageMask = kPageSize - 1;

template <class Tag>
class Address {
 public:
  constexpr Address() = default;
  constexpr explicit Address(uint64_t value) : value_(value) {}

  [[nodiscard]] constexpr uint64_t value() const { return value_; }
  [[nodiscard]] constexpr uint64_t page_number() const { return value_ >> kPageShift; }
  [[nodiscard]] constexpr uint64_t page_offset() const { return value_ & kPageMask; }
  [[nodiscard]] constexpr Address page_base() const { return Address(value_ & ~kPageMask); }
  [[nodiscard]] static constexpr Address from_page(uint64_t pfn) {
    return Address(pfn << kPageShift);
  }

  constexpr Address operator+(uint64_t off) const { return Address(value_ + off); }
  constexpr Address operator-(uint64_t off) const { return Address(value_ - off); }
  constexpr uint64_t operator-(Address other) const { return value_ - other.value_; }
  constexpr Address& operator+=(uint64_t off) { value_ += off; return *this; }
  constexpr auto operator<=>(const Address&) const = default;

 private:
  uint64_t value_ = 0;
};

struct GvaTag {};
struct GpaTag {};
struct HpaTag {};

using Gva = Address<GvaTag>;  // guest virtual address
using Gpa = Address<GpaTag>;  // guest physical address
using Hpa = Address<HpaTag>;  // host frame address: FrameStore index * 4 KiB

static_assert(sizeof(Gva) == 8 && sizeof(Gpa) == 8 && sizeof(Hpa) == 8);

}  // namespace densevm

template <class Tag>
struct std::hash<densevm::Address<Tag>> {
  size_t operator()(densevm::Address<Tag> a) const noexcept { return std::hash<uint64_t>{}(a.value()); }
};
