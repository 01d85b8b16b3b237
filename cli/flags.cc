#include "cli/flags.h"

#include <cctype>
#include <charconv>

namespace densevm::cli {

uint64_t parse_count(std::string_view flag, std::string_view text, Range range) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < range.min || v > range.max) {
    throw UsageError(std::string(flag) + " takes a whole number from " + std::to_string(range.min) + " to " +
                     std::to_string(range.max) + ", not '" + std::string(text) + "'");
  }
  return v;
}

uint64_t parse_size(std::string_view flag, std::string_view text, Range range) {
  const std::string not_a_size = "not a size for " + std::string(flag) + ": '" + std::string(text) + "'";
  uint64_t v = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || p == begin) throw UsageError(not_a_size);
  std::string suffix(p, end);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() > 1 && suffix.ends_with("B")) suffix.resize(suffix.size() - (suffix.ends_with("IB") ? 2 : 1));
  unsigned shift = 0;
  if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else if (!suffix.empty() && suffix != "B") throw UsageError(not_a_size);
  if (shift != 0 && v > (~uint64_t{0} >> shift)) throw UsageError(not_a_size);
  const uint64_t bytes = v << shift;
  if (bytes < range.min || bytes > range.max) {
    throw UsageError(std::string(flag) + " must be between " + size_text(range.min) + " and " + size_text(range.max));
  }
  return bytes;
}

std::string size_text(uint64_t bytes) {
  static constexpr std::pair<unsigned, char> kUnits[] = {{40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  for (const auto& [shift, unit] : kUnits) {
    const uint64_t one = uint64_t{1} << shift;
    if (bytes != 0 && bytes % one == 0) return std::to_string(bytes / one) + unit;
  }
  return std::to_string(bytes);
}

namespace {

CLI::Option* add_size_option(CLI::App& app, const std::string& flag, std::function<void(uint64_t)> set, Range range,
                             const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag, [set = std::move(set), flag, range](const std::string& text) { set(parse_size(flag, text, range)); },
          help + " (" + size_text(range.min) + " to " + size_text(range.max) + ")")
      ->type_name("SIZE");
}

}  // namespace

CLI::Option* add_size(CLI::App& app, const std::string& flag, uint64_t& target, Range range, const std::string& help) {
  return add_size_option(app, flag, [&target](uint64_t v) { target = v; }, range, help)
      ->default_str(target == 0 ? std::string() : size_text(target));
}

CLI::Option* add_size(CLI::App& app, const std::string& flag, std::optional<uint64_t>& target, Range range,
                      const std::string& help) {
  return add_size_option(app, flag, [&target](uint64_t v) { target = v; }, range, help);
}

}  // namespace densevm::cli
