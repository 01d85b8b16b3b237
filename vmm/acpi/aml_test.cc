#include "vmm/acpi/aml.h"

#include <gtest/gtest.h>

#include <stdexcept>

namespace densevm::acpi {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(Aml, IntegersTakeTheShortestEncoding) {
  EXPECT_EQ(Aml::integer(0).bytes(), (Bytes{0x00}));  // ZeroOp
  EXPECT_EQ(Aml::integer(1).bytes(), (Bytes{0x01}));  // OneOp
  EXPECT_EQ(Aml::integer(5).bytes(), (Bytes{0x0a, 0x05}));
  EXPECT_EQ(Aml::integer(0x1234).bytes(), (Bytes{0x0b, 0x34, 0x12}));
  EXPECT_EQ(Aml::integer(0xd0000000).bytes(), (Bytes{0x0c, 0x00, 0x00, 0x00, 0xd0}));
  EXPECT_EQ(Aml::integer(uint64_t{1} << 32).bytes(), (Bytes{0x0e, 0, 0, 0, 0, 1, 0, 0, 0}));
}

TEST(Aml, StringsAndEisaIds) {
  EXPECT_EQ(Aml::string("AB").bytes(), (Bytes{0x0d, 'A', 'B', 0x00}));
  // EisaId("PNP0501") is 0x0105D041, the value every PC's DSDT carries for COM ports.
  EXPECT_EQ(Aml::eisa_id("PNP0501").bytes(), (Bytes{0x0c, 0x41, 0xd0, 0x05, 0x01}));
  EXPECT_EQ(Aml::eisa_id("PNP0B00").bytes(), (Bytes{0x0c, 0x41, 0xd0, 0x0b, 0x00}));
  EXPECT_THROW((void)Aml::eisa_id("pnp0501"), std::invalid_argument);
  EXPECT_THROW((void)Aml::string(std::string_view("\0", 1)), std::invalid_argument);
}

TEST(Aml, NamesArePaddedSegmentsWithPrefixes) {
  Aml a;
  a.name("_S5", Aml::integer(0));
  EXPECT_EQ(a.bytes(), (Bytes{0x08, '_', 'S', '5', '_', 0x00}));
  Aml root;
  root.name("\\_SB.COM1", Aml::integer(1));
  EXPECT_EQ(root.bytes(), (Bytes{0x08, 0x5c, 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1', 0x01}));
  Aml bad;
  EXPECT_THROW(bad.name("TOOLONG", Aml::integer(0)), std::invalid_argument);
  EXPECT_THROW(bad.name("1ABC", Aml::integer(0)), std::invalid_argument);
}

TEST(Aml, PackageLengthGrowsPastOneByte) {
  // A body of 62 bytes: PkgLength 63 fits in one byte.
  Aml small;
  small.device("DEV0", Aml{}.name("_UID", Aml::string(std::string(50, 'x'))));
  ASSERT_GE(small.bytes().size(), 3u);
  EXPECT_EQ(small.bytes()[0], 0x5b);
  EXPECT_EQ(small.bytes()[1], 0x82);
  EXPECT_EQ(small.bytes()[2], small.bytes().size() - 2) << "one-byte length counts itself";
  // 200 bytes of body: two length bytes, 0x4N then the rest of the length >> 4.
  Aml big;
  big.device("DEV1", Aml{}.name("_STR", Aml::string(std::string(190, 'y'))));
  const uint64_t len = big.bytes().size() - 2;  // after DeviceOp
  EXPECT_EQ(big.bytes()[2] >> 6, 1) << "one extra byte";
  EXPECT_EQ(big.bytes()[2] & 0xf, len & 0xf);
  EXPECT_EQ(big.bytes()[3], len >> 4);
}

TEST(Aml, ResourceDescriptors) {
  EXPECT_EQ(Resources().io(0x3f8, 8).irq_no_flags(4).take(),
            (Bytes{0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00, 0x79, 0x00}));
  EXPECT_EQ(Resources().memory32_fixed(0xd0000000, 0x200).interrupt_level_high(5).take(),
            (Bytes{0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,
                   0x89, 0x06, 0x00, 0x01, 0x01, 0x05, 0x00, 0x00, 0x00, 0x79, 0x00}));
  EXPECT_THROW(Resources().irq_no_flags(16), std::invalid_argument);
}

}  // namespace
}  // namespace densevm::acpi
