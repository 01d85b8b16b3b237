#include "core/persist.h"

namespace densevm {

void StateWriter::blob(std::span<const uint8_t> data) {
  u64(data.size());
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

void StateWriter::str(const std::string& s) {
  blob({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

bool StateReader::boolean() {
  const uint8_t v = u8();
  if (v > 1) throw StateError("state record has a bad boolean");
  return v == 1;
}

std::span<const uint8_t> StateReader::take(uint64_t n) {
  if (n > remaining()) throw StateError("state record ends early");
  const std::span<const uint8_t> out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

std::vector<uint8_t> StateReader::blob(uint64_t max) {
  const uint64_t n = u64();
  if (n > max) throw StateError("state record has an oversized field");
  const std::span<const uint8_t> s = take(n);
  return {s.begin(), s.end()};
}

std::string StateReader::str(uint64_t max) {
  const std::vector<uint8_t> b = blob(max);
  return {b.begin(), b.end()};
}

void StateReader::words(std::vector<uint64_t>& w, uint64_t max) {
  const uint64_t n = u64();
  if (n > max) throw StateError("state record has an oversized field");
  static_assert(std::endian::native == std::endian::little, "records are little-endian");
  const std::span<const uint8_t> bytes = take(n * sizeof(uint64_t));
  w.resize(n);
  if (n != 0) std::memcpy(w.data(), bytes.data(), bytes.size());  // an empty vector may have no data()
}

void StateReader::expect_end(const char* what) const {
  if (remaining() != 0) throw StateError(std::string(what) + " record has trailing bytes");
}

}  // namespace densevm
