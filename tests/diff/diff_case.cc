#include "tests/diff/diff_case.h"

#include <cstring>

namespace densevm::diff {

namespace {

std::array<uint8_t, kDataSize> make_template() {
  // xorshift64 with a fixed seed, so both sides and every run see the same bytes.
  std::array<uint8_t, kDataSize> data{};
  uint64_t x = 0x9E3779B97F4A7C15;
  for (size_t i = 0; i < data.size(); i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&data[i], &x, 8);
  }
  return data;
}

}  // namespace

FxImage initial_fx_image() {
  FxImage fx{};
  fx[kFxFcw] = 0x7f;
  fx[kFxFcw + 1] = 0x03;
  fx[kFxMxcsr] = 0x80;
  fx[kFxMxcsr + 1] = 0x1f;
  return fx;
}

void fill_data_template(std::span<uint8_t, kDataSize> data) {
  static const std::array<uint8_t, kDataSize> kTemplate = make_template();
  std::memcpy(data.data(), kTemplate.data(), kDataSize);
}

void initial_data(const DiffCase& c, std::span<uint8_t, kDataSize> data) {
  fill_data_template(data);
  for (const DataPatch& p : c.data) {
    if (p.offset + p.bytes.size() <= kDataSize) {
      std::memcpy(&data[p.offset], p.bytes.data(), p.bytes.size());
    }
  }
}

}  // namespace densevm::diff
