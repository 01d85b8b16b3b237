// StateWriter / StateReader: the one save/restore contract of every stateful device.
//
// A device appends its fields to a StateWriter as little-endian integers and byte strings;
// restore reads them back in the same order from a StateReader. The reader is bounds-checked:
// running past the end, or a length that cannot fit, throws StateError (one line) and never
// reads outside the buffer. Snapshot files and checkpoints are "ask everyone to save".
//
// A record is written in the current layout (kStateVersion, the snapshot file format's
// version); a reader of an older file's record is told its version, and a restore reads the
// fields that layout had, giving what it lacks its reset value (FORMAT.md, Compatibility).
//
//   StateWriter w; vcpu.save(w);                 // w.bytes() holds the record
//   StateReader r(w.bytes()); vcpu.restore(r);   // throws StateError on short input
//   r.expect_end("vcpu");
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace densevm {

struct StateError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Layout versions of state records: 3 added the vCPU's x87/SSE state.
inline constexpr uint32_t kStateVersion = 3;
inline constexpr uint32_t kOldestStateVersion = 2;

class StateWriter {
 public:
  // Records are written in `version`'s layout: the current one, or an older one for tests
  // of the readers of older files (each save writes only what that version had).
  explicit StateWriter(uint32_t version = kStateVersion) : version_(version) {}
  [[nodiscard]] uint32_t version() const { return version_; }
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

 private:
  void put(uint64_t v, unsigned n) {
    for (unsigned i = 0; i < n; ++i) bytes_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> bytes_;
  uint32_t version_;
};

class StateReader {
 public:
  explicit StateReader(std::span<const uint8_t> data, uint32_t version = kStateVersion)
      : data_(data), version_(version) {}
  // The layout the record was written in (kOldestStateVersion..kStateVersion).
  [[nodiscard]] uint32_t version() const { return version_; }
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

 private:
  // Inline and one copy on little-endian hosts: a rollback restores the balloon's bitmap
  // (a word per 64 guest pages) through here every round.
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

}  // namespace densevm
