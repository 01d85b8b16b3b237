// How the densevm command line reads a value, one way for every subcommand: whole numbers
// within a range, sizes with binary suffixes within a range, and names from a list. Each
// add_* declares a CLI11 option whose --help shows the range (declared once, here) and the
// default, and whose value is checked as it is parsed: a bad one throws UsageError with the
// one line the CLI prints.
//
//   CLI::App& run = *app.add_subcommand("run", "boot guests");
//   add_count(run, "--vms", o.vms, {1, 4096}, "number of guests");
//   add_size(run, "--mem", o.mem_bytes, {kMiB, 128 * kGiB}, "RAM per guest");
//   add_choice<bool>(run, "--dedup", o.dedup, {{"on", true}, {"off", false}}, "page sharing");
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace densevm::cli {

// Bad command-line input: the message is the one line the CLI shows (exit status 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

struct Range {
  uint64_t min = 0;
  uint64_t max = 0;
};

// "4096" in [min, max]; throws "FLAG takes a whole number from MIN to MAX, not 'TEXT'".
[[nodiscard]] uint64_t parse_count(std::string_view flag, std::string_view text, Range range);
// "64M", "1G", "512K", "4096" (bytes); suffixes are binary (KiB, MiB, GiB, TiB), with or
// without a trailing B or iB, in any case. Throws "not a size for FLAG: 'TEXT'", or "FLAG must
// be between MIN and MAX".
[[nodiscard]] uint64_t parse_size(std::string_view flag, std::string_view text, Range range);
// The shortest exact spelling of a size: 1M, 128G, 4K, 1000.
[[nodiscard]] std::string size_text(uint64_t bytes);

// A whole number: `target` is unsigned or uint64_t; `help` gets the range appended.
template <class T>
CLI::Option* add_count(CLI::App& app, const std::string& flag, T& target, Range range, const std::string& help) {
  return app
      .add_option_function<std::string>(
          flag, [&target, flag, range](const std::string& text) { target = static_cast<T>(parse_count(flag, text, range)); },
          help + " (" + std::to_string(range.min) + " to " + std::to_string(range.max) + ")")
      ->type_name("N")
      ->default_str(std::to_string(target));
}

// A size in bytes; `help` gets the range appended. An optional target stays empty unless given.
CLI::Option* add_size(CLI::App& app, const std::string& flag, uint64_t& target, Range range, const std::string& help);
CLI::Option* add_size(CLI::App& app, const std::string& flag, std::optional<uint64_t>& target, Range range,
                      const std::string& help);

// One of `choices` by name; throws "FLAG takes A, B or C, not 'TEXT'".
template <class T>
CLI::Option* add_choice(CLI::App& app, const std::string& flag, T& target, std::vector<std::pair<std::string, T>> choices,
                        const std::string& help) {
  std::string names, current;
  for (size_t i = 0; i < choices.size(); ++i) {
    names += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i].first;
    if (choices[i].second == target) current = choices[i].first;
  }
  std::string type;
  for (const auto& [name, value] : choices) type += (type.empty() ? "" : "|") + name;
  return app
      .add_option_function<std::string>(
          flag,
          [&target, flag, names, choices](const std::string& text) {
            for (const auto& [name, value] : choices) {
              if (name == text) {
                target = value;
                return;
              }
            }
            throw UsageError(flag + " takes " + names + ", not '" + text + "'");
          },
          help)
      ->type_name(type)
      ->default_str(current);
}

}  // namespace densevm::cli
