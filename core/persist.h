// Persist: how every device and service of densevm saves and restores its state, one way
// (Firecracker's Persist): a plain State struct per component, and
//   State save() const;   void restore(const State& s);   // restore checks; throws StateError
// so a checkpoint is "ask everyone to save" and a rollback "give everyone its state back".
//
// The state of what goes into a snapshot file (the VM and its devices) also lists its fields
// once, in a static `fields(state, io)`: that one list writes the record (StateWriter) and
// reads it back (StateReader), so the two cannot drift. The state of a host service (the
// dedup scanner, the balloon policy) holds host resources, such as frame references, and
// stays in memory.
//
// Versions. The top record's layout version is the snapshot format's (FORMAT.md), which the
// top State names (VmState::kVersion, and kOldestVersion, the oldest it still reads). A field
// list grows by versions: the fields version N added are listed under `if (io.since(N))`, so
// one list writes and reads every version's layout. A writer or reader made without a version
// has the newest layout; one made with an older version writes or reads exactly what that
// version had (a snapshot file of that version; tests make genuine older records so). Fields
// an older record lacks keep their State's defaults, which are the component's reset state.
//
//   struct UartState {
//     uint8_t lcr = 0; uint64_t bytes = 0; std::string line; uint8_t fcr = 0;
//     static void fields(auto& s, auto& io) {
//       io(s.lcr, s.bytes); io.str(s.line, 4096);
//       if (io.since(3)) io(s.fcr);                 // added in version 3
//     }
//   };
//   StateWriter w; write_record(w, uart.save());
//   StateReader r(w.bytes()); uart.restore(read_record<UartState>(r));
//   StateReader old(v2_bytes, 2);                  // a version-2 record: fcr stays 0
//
// StateWriter and StateReader also serve as the little-endian codec of the snapshot file's
// other sections: a length or a string beyond its bound, or reading past the end, throws
// StateError (one line) and never reads outside the buffer.
#pragma once

#include <array>
#include <bit>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace densevm {

struct StateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A component with the one save/restore shape: what save() gives, restore() takes back.
template <class T>
concept Persistent = requires(const T& c, T& m) { m.restore(c.save()); };

namespace persist_detail {
template <class T> struct IsArray : std::false_type {};
template <class T, size_t N> struct IsArray<std::array<T, N>> : std::true_type {};
template <class T> struct IsOptional : std::false_type {};
template <class T> struct IsOptional<std::optional<T>> : std::true_type {};
}  // namespace persist_detail

// The layout of a writer or reader made without a version: every record's newest.
inline constexpr uint32_t kNewestLayout = std::numeric_limits<uint32_t>::max();

class StateWriter {
 public:
  StateWriter() = default;
  // Records in version `version`'s layout: only the fields that version had.
  explicit StateWriter(uint32_t version) : version_(version) {}
  [[nodiscard]] uint32_t version() const { return version_; }
  // The layout has the fields version v added.
  [[nodiscard]] bool since(uint32_t v) const { return version_ >= v; }
  void u8(uint8_t v) { bytes_.push_back(v); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  // A u64 length, then the bytes.
  void blob(std::span<const uint8_t> data);
  void str(const std::string& s);
  [[nodiscard]] const std::vector<uint8_t>& bytes() const { return bytes_; }
  [[nodiscard]] std::vector<uint8_t>& bytes() { return bytes_; }

  // The field-list side (State::fields): each integer as its own width, bool as a byte, an
  // enum as its underlying integer, an array (C or std) element by element, an optional as a
  // bool and the value (or a zero one), a nested State by its own fields.
  template <class... T>
  void operator()(const T&... v) {
    (field(v), ...);
  }
  void str(const std::string& s, uint64_t /*max*/) { str(s); }
  template <size_t N>
  void blob(const std::array<uint8_t, N>& data, uint64_t /*max*/ = N) {
    blob(std::span<const uint8_t>(data));
  }
  // A u64 count, then the words.
  void words(const std::vector<uint64_t>& w, uint64_t /*max*/) {
    u64(w.size());
    for (const uint64_t v : w) u64(v);
  }
  // A count of type Count, then each element's fields.
  template <class Count, class T>
  void list(const std::vector<T>& items, uint64_t /*max*/) {
    field(static_cast<Count>(items.size()));
    for (const T& item : items) field(item);
  }
  // A count of type Count, then each string.
  template <class Count>
  void strings(const std::vector<std::string>& items, uint64_t /*max*/, uint64_t /*max_length*/) {
    field(static_cast<Count>(items.size()));
    for (const std::string& item : items) str(item);
  }

 private:
  template <class T>
  void field(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      boolean(v);
    } else if constexpr (std::is_enum_v<T>) {
      field(static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (std::is_integral_v<T>) {
      put(static_cast<uint64_t>(v), sizeof(T));
    } else if constexpr (persist_detail::IsArray<T>::value || std::is_array_v<T>) {
      for (const auto& x : v) field(x);
    } else if constexpr (persist_detail::IsOptional<T>::value) {
      field(v.has_value());
      field(v.value_or(typename T::value_type{}));
    } else {
      T::fields(v, *this);
    }
  }
  void put(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
  uint32_t version_ = kNewestLayout;
};

class StateReader {
 public:
  // `version`: the layout the bytes were written in (a snapshot file's format version).
  explicit StateReader(std::span<const uint8_t> data, uint32_t version = kNewestLayout)
      : data_(data), version_(version) {}
  [[nodiscard]] uint32_t version() const { return version_; }
  [[nodiscard]] bool since(uint32_t v) const { return version_ >= v; }
  [[nodiscard]] uint8_t u8() { return static_cast<uint8_t>(get(1)); }
  // Any byte other than 0 or 1 is corruption, not "true".
  [[nodiscard]] bool boolean();
  [[nodiscard]] uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  [[nodiscard]] uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  [[nodiscard]] uint64_t u64() { return get(8); }
  [[nodiscard]] int64_t i64() { return static_cast<int64_t>(get(8)); }
  // At most `max` bytes: a corrupted length must not become a huge allocation.
  [[nodiscard]] std::vector<uint8_t> blob(uint64_t max);
  [[nodiscard]] std::string str(uint64_t max);
  // Borrowed view of the next n bytes.
  [[nodiscard]] std::span<const uint8_t> take(uint64_t n);
  [[nodiscard]] uint64_t remaining() const { return data_.size() - pos_; }
  // Throws unless every byte was consumed (a record longer than its reader expects is corrupt).
  void expect_end(const char* what) const;

  // The field-list side (State::fields), reading what StateWriter wrote.
  template <class... T>
  void operator()(T&... v) {
    (field(v), ...);
  }
  void str(std::string& s, uint64_t max) { s = str(max); }
  // Exactly N bytes (a blob of another length is corrupt).
  template <size_t N>
  void blob(std::array<uint8_t, N>& data, uint64_t max = N) {
    const std::vector<uint8_t> b = blob(max);
    if (b.size() != N) throw StateError("state record has a field of the wrong size");
    std::memcpy(data.data(), b.data(), N);
  }
  // One copy on little-endian hosts, not a read per word: a rollback's records carry a word
  // per 64 guest pages (the balloon's bitmap).
  void words(std::vector<uint64_t>& w, uint64_t max);
  template <class Count, class T>
  void list(std::vector<T>& items, uint64_t max) {
    Count n{};
    field(n);
    if (n > max) throw StateError("state record has an oversized list");
    items.assign(n, T{});
    for (T& item : items) field(item);
  }
  template <class Count>
  void strings(std::vector<std::string>& items, uint64_t max, uint64_t max_length) {
    Count n{};
    field(n);
    if (n > max) throw StateError("state record has an oversized list");
    items.assign(n, std::string{});
    for (std::string& item : items) item = str(max_length);
  }

 private:
  template <class T>
  void field(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      v = boolean();
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw{};
      field(raw);
      v = static_cast<T>(raw);
    } else if constexpr (std::is_integral_v<T>) {
      v = static_cast<T>(get(sizeof(T)));
    } else if constexpr (persist_detail::IsArray<T>::value || std::is_array_v<T>) {
      for (auto& x : v) field(x);
    } else if constexpr (persist_detail::IsOptional<T>::value) {
      bool present = false;
      typename T::value_type value{};
      field(present);
      field(value);
      v.reset();
      if (present) v = value;
    } else {
      T::fields(v, *this);
    }
  }
  // Inline and one copy on little-endian hosts.
  [[nodiscard]] uint64_t get(unsigned n) {
    if (remaining() < n) throw StateError("state record ends early");
    uint64_t v = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&v, data_.data() + pos_, n);
    } else {
      for (unsigned i = 0; i < n; ++i) v |= uint64_t{data_[pos_ + i]} << (8 * i);
    }
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  uint32_t version_;
};

namespace persist_detail {
// A top State (one with kVersion) is written and read only in the versions it knows.
template <class State>
void check_version(uint32_t version) {
  if constexpr (requires { State::kVersion; }) {
    if (version != kNewestLayout && (version < State::kOldestVersion || version > State::kVersion)) {
      throw StateError("state record of version " + std::to_string(version) + ", this build reads " +
                       std::to_string(State::kOldestVersion) + " to " + std::to_string(State::kVersion));
    }
  }
}
}  // namespace persist_detail

// The record of a State with a field list, in the writer's layout.
template <class State>
void write_record(StateWriter& w, const State& s) {
  persist_detail::check_version<State>(w.version());
  w(s);
}
// Reads what write_record wrote, in the reader's layout (the version it was made with).
template <class State>
[[nodiscard]] State read_record(StateReader& r) {
  persist_detail::check_version<State>(r.version());
  State s{};
  r(s);
  return s;
}

}  // namespace densevm
