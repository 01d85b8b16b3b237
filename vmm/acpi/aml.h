// Aml: a tiny builder of ACPI Machine Language, enough for densevm's DSDT (ACPI 6.4 ch. 20,
// "ACPI Machine Language Specification", and §6.4 resource descriptors).
//
// Each call appends one encoded term; scopes and devices take their contents as an Aml
// built first, so the package length (§20.2.4) is known when the header is written.
//
//   Aml dev;
//   dev.name("_HID", Aml::string("LNRO0005")).name("_UID", Aml::integer(0));
//   Aml sb;  sb.device("VR00", dev);
//   Aml dsdt; dsdt.scope("\\_SB", sb);          // dsdt.bytes() is the DSDT's body
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace densevm::acpi {

class Aml {
 public:
  // DataRefObjects (§20.2.3): integers take the shortest encoding (ZeroOp, OneOp,
  // BytePrefix, WordPrefix, DWordPrefix, QWordPrefix); strings are ASCII without NUL.
  [[nodiscard]] static Aml integer(uint64_t value);
  [[nodiscard]] static Aml string(std::string_view ascii);
  // EisaId("PNP0501"): three letters and four hex digits compressed into a DWORD (§19.6.35).
  [[nodiscard]] static Aml eisa_id(std::string_view id);
  // Package(N){elements...}: the elements are appended terms, `count` of them.
  [[nodiscard]] static Aml package(const Aml& elements, uint8_t count);
  // Buffer(){bytes}: a resource template's bytes (Resources::take).
  [[nodiscard]] static Aml buffer(const std::vector<uint8_t>& bytes);

  // Notify(PATH, value): a statement, for a method's body (§19.6.93).
  [[nodiscard]] static Aml notify(std::string_view path, uint8_t value);

  // Appends an encoded term as it is (package elements, one after another).
  Aml& append(const Aml& term);
  // Name(NAME, object), Scope(PATH){...}, Device(NAME){...}.
  Aml& name(std::string_view path, const Aml& object);
  Aml& scope(std::string_view path, const Aml& body);
  Aml& device(std::string_view name, const Aml& body);
  // Method(NAME, args, NotSerialized){body}.
  Aml& method(std::string_view name, uint8_t args, const Aml& body);

  [[nodiscard]] const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  void name_string(std::string_view path);
  // PkgLength (§20.2.4) for `body` bytes that follow it, then the body.
  void with_length(const std::vector<uint8_t>& body);
  std::vector<uint8_t> bytes_;
};

// A ResourceTemplate's descriptors (§6.4), closed by the End Tag when taken.
class Resources {
 public:
  // IO(Decode16, min, max, align, length): small item 0x47 (§6.4.2.5).
  Resources& io(uint16_t base, uint8_t length, uint8_t align = 1);
  // IRQNoFlags(){irq}: small item 0x22, edge-triggered, active-high (§6.4.2.1).
  Resources& irq_no_flags(uint8_t irq);
  // Memory32Fixed(ReadWrite, base, length): large item 0x86 (§6.4.3.4).
  Resources& memory32_fixed(uint32_t base, uint32_t length);
  // Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive){gsi}: large item 0x89 (§6.4.3.6).
  Resources& interrupt_level_high(uint32_t gsi);
  // Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive){gsi}.
  Resources& interrupt_edge_high(uint32_t gsi);
  [[nodiscard]] std::vector<uint8_t> take();

 private:
  Resources& interrupt(uint32_t gsi, bool edge);
  std::vector<uint8_t> bytes_;
};

}  // namespace densevm::acpi
