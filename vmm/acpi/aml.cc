#include "vmm/acpi/aml.h"

#include <stdexcept>

namespace densevm::acpi {
namespace {

// Opcodes (ACPI 6.4 §20.3).
constexpr uint8_t kZeroOp = 0x00, kOneOp = 0x01, kNameOp = 0x08, kBytePrefix = 0x0a,
                  kWordPrefix = 0x0b, kDWordPrefix = 0x0c, kStringPrefix = 0x0d,
                  kQWordPrefix = 0x0e, kScopeOp = 0x10, kBufferOp = 0x11, kPackageOp = 0x12,
                  kMethodOp = 0x14, kNotifyOp = 0x86,
                  kExtOpPrefix = 0x5b, kDeviceOp = 0x82, kRootChar = 0x5c,
                  kDualNamePrefix = 0x2e, kMultiNamePrefix = 0x2f;

void le(std::vector<uint8_t>& out, uint64_t v, unsigned n) {
  for (unsigned i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool name_char(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (!first && c >= '0' && c <= '9');
}

}  // namespace

Aml Aml::integer(uint64_t v) {
  Aml a;
  if (v == 0) {
    a.bytes_.push_back(kZeroOp);
  } else if (v == 1) {
    a.bytes_.push_back(kOneOp);
  } else if (v <= 0xff) {
    a.bytes_ = {kBytePrefix, static_cast<uint8_t>(v)};
  } else if (v <= 0xffff) {
    a.bytes_.push_back(kWordPrefix);
    le(a.bytes_, v, 2);
  } else if (v <= 0xffffffff) {
    a.bytes_.push_back(kDWordPrefix);
    le(a.bytes_, v, 4);
  } else {
    a.bytes_.push_back(kQWordPrefix);
    le(a.bytes_, v, 8);
  }
  return a;
}

Aml Aml::string(std::string_view ascii) {
  Aml a;
  a.bytes_.push_back(kStringPrefix);
  for (char c : ascii) {
    if (c == 0 || static_cast<unsigned char>(c) > 0x7f) throw std::invalid_argument("AML strings are ASCII without NUL");
    a.bytes_.push_back(static_cast<uint8_t>(c));
  }
  a.bytes_.push_back(0);
  return a;
}

Aml Aml::eisa_id(std::string_view id) {
  auto hex = [&](char c) -> uint32_t {
    if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<uint32_t>(c - 'A' + 10);
    throw std::invalid_argument("bad EISA id");
  };
  if (id.size() != 7) throw std::invalid_argument("bad EISA id");
  for (int i = 0; i < 3; ++i) {
    if (id[i] < 'A' || id[i] > 'Z') throw std::invalid_argument("bad EISA id");
  }
  // Bytes 0-1: big-endian 5-bit letters (letter - 0x40); bytes 2-3: the product number as
  // four big-endian hex digits. The DWORD is those four bytes, little-endian.
  const uint32_t letters = (static_cast<uint32_t>(id[0] - 0x40) << 10) |
                           (static_cast<uint32_t>(id[1] - 0x40) << 5) | static_cast<uint32_t>(id[2] - 0x40);
  const uint32_t product = (hex(id[3]) << 12) | (hex(id[4]) << 8) | (hex(id[5]) << 4) | hex(id[6]);
  const uint32_t dword = (letters >> 8) | ((letters & 0xff) << 8) | ((product >> 8) << 16) | ((product & 0xff) << 24);
  Aml a;
  a.bytes_.push_back(kDWordPrefix);
  le(a.bytes_, dword, 4);
  return a;
}

Aml Aml::package(const Aml& elements, uint8_t count) {
  std::vector<uint8_t> body{count};  // NumElements
  body.insert(body.end(), elements.bytes_.begin(), elements.bytes_.end());
  Aml a;
  a.bytes_.push_back(kPackageOp);
  a.with_length(body);
  return a;
}

Aml Aml::buffer(const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> body = integer(bytes.size()).bytes_;  // BufferSize, a TermArg
  body.insert(body.end(), bytes.begin(), bytes.end());
  Aml a;
  a.bytes_.push_back(kBufferOp);
  a.with_length(body);
  return a;
}

void Aml::name_string(std::string_view path) {
  if (!path.empty() && path[0] == '\\') {
    bytes_.push_back(kRootChar);
    path.remove_prefix(1);
  }
  std::vector<std::string_view> segs;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    segs.push_back(path.substr(0, dot));
    path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  }
  if (segs.empty() || segs.size() > 255) throw std::invalid_argument("bad AML name");
  if (segs.size() == 2) bytes_.push_back(kDualNamePrefix);
  if (segs.size() > 2) bytes_.insert(bytes_.end(), {kMultiNamePrefix, static_cast<uint8_t>(segs.size())});
  for (std::string_view s : segs) {
    // A NameSeg is four characters, padded with '_' (§20.2.2).
    if (s.empty() || s.size() > 4) throw std::invalid_argument("bad AML name segment");
    for (size_t i = 0; i < 4; ++i) {
      const char c = i < s.size() ? s[i] : '_';
      if (!name_char(c, i == 0)) throw std::invalid_argument("bad AML name segment");
      bytes_.push_back(static_cast<uint8_t>(c));
    }
  }
}

void Aml::with_length(const std::vector<uint8_t>& body) {
  // The length counts itself: one byte holds up to 63 in bits 5:0; longer lengths take 1-3
  // more bytes, the count in bits 7:6 of the lead byte, its bits 3:0 the low nibble.
  uint64_t total = body.size() + 1;
  if (total < 0x40) {
    bytes_.push_back(static_cast<uint8_t>(total));
  } else {
    unsigned extra = 1;
    while (body.size() + 1 + extra >= (uint64_t{1} << (4 + 8 * extra))) {
      if (++extra > 3) throw std::length_error("AML package too long");
    }
    total = body.size() + 1 + extra;
    bytes_.push_back(static_cast<uint8_t>((extra << 6) | (total & 0xf)));
    for (unsigned i = 0; i < extra; ++i) bytes_.push_back(static_cast<uint8_t>(total >> (4 + 8 * i)));
  }
  bytes_.insert(bytes_.end(), body.begin(), body.end());
}

Aml Aml::notify(std::string_view path, uint8_t value) {
  Aml a;
  a.bytes_.push_back(kNotifyOp);
  a.name_string(path);
  a.append(integer(value));
  return a;
}

Aml& Aml::method(std::string_view name, uint8_t args, const Aml& body) {
  if (args > 7) throw std::invalid_argument("AML methods take at most 7 arguments");
  Aml inner;
  inner.name_string(name);
  inner.bytes_.push_back(args);  // MethodFlags: ArgCount in bits 2:0, not serialized
  inner.append(body);
  bytes_.push_back(kMethodOp);
  with_length(inner.bytes_);
  return *this;
}

Aml& Aml::append(const Aml& term) {
  bytes_.insert(bytes_.end(), term.bytes_.begin(), term.bytes_.end());
  return *this;
}

Aml& Aml::name(std::string_view path, const Aml& object) {
  bytes_.push_back(kNameOp);
  name_string(path);
  bytes_.insert(bytes_.end(), object.bytes_.begin(), object.bytes_.end());
  return *this;
}

Aml& Aml::scope(std::string_view path, const Aml& body) {
  Aml inner;
  inner.name_string(path);
  inner.bytes_.insert(inner.bytes_.end(), body.bytes_.begin(), body.bytes_.end());
  bytes_.push_back(kScopeOp);
  with_length(inner.bytes_);
  return *this;
}

Aml& Aml::device(std::string_view name, const Aml& body) {
  Aml inner;
  inner.name_string(name);
  inner.bytes_.insert(inner.bytes_.end(), body.bytes_.begin(), body.bytes_.end());
  bytes_.insert(bytes_.end(), {kExtOpPrefix, kDeviceOp});
  with_length(inner.bytes_);
  return *this;
}

Resources& Resources::io(uint16_t base, uint8_t length, uint8_t align) {
  // Tag 0x47 (type 8, length 7); information bit 0: decodes 16 address bits.
  bytes_.insert(bytes_.end(), {0x47, 0x01});
  le(bytes_, base, 2);  // range minimum
  le(bytes_, base, 2);  // range maximum: a fixed port
  bytes_.insert(bytes_.end(), {align, length});
  return *this;
}

Resources& Resources::irq_no_flags(uint8_t irq) {
  if (irq > 15) throw std::invalid_argument("IRQ descriptors name ISA IRQs 0-15");
  bytes_.push_back(0x22);  // tag: type 4, length 2 (no flags byte: edge, active-high)
  le(bytes_, uint64_t{1} << irq, 2);
  return *this;
}

Resources& Resources::memory32_fixed(uint32_t base, uint32_t length) {
  bytes_.push_back(0x86);  // large item, Memory32Fixed
  le(bytes_, 9, 2);        // length of what follows
  bytes_.push_back(0x01);  // information: bit 0 read/write
  le(bytes_, base, 4);
  le(bytes_, length, 4);
  return *this;
}

Resources& Resources::interrupt(uint32_t gsi, bool edge) {
  bytes_.push_back(0x89);  // large item, Extended Interrupt
  le(bytes_, 6, 2);        // flags, table length, one DWORD
  // Flags: bit 0 consumer; bit 1 edge- (1) or level-triggered (0); bit 2 clear =
  // active-high; bit 3 clear = exclusive; bit 4 clear = not wake-capable.
  bytes_.push_back(edge ? 0x03 : 0x01);
  bytes_.push_back(1);  // interrupt table length
  le(bytes_, gsi, 4);
  return *this;
}

Resources& Resources::interrupt_level_high(uint32_t gsi) { return interrupt(gsi, false); }
Resources& Resources::interrupt_edge_high(uint32_t gsi) { return interrupt(gsi, true); }

std::vector<uint8_t> Resources::take() {
  // End Tag (§6.4.2.9): 0x79 and a checksum byte; 0 means "treat as correct".
  std::vector<uint8_t> out = std::move(bytes_);
  out.insert(out.end(), {0x79, 0x00});
  bytes_.clear();
  return out;
}

}  // namespace densevm::acpi
