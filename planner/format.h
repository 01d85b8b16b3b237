// Sizes as the planner prints them: binary units with one decimal ("1.5 GiB", "512.0 MiB").
//
//   std::string s = format_bytes(uint64_t{3} << 29);   // "1.5 GiB"
#pragma once

#include <cstdint>
#include <string>

namespace densevm::planner {

[[nodiscard]] std::string format_bytes(uint64_t bytes);
// "12.3%" of a fraction 0.123; "+1.2%" with a sign when signed.
[[nodiscard]] std::string format_percent(double fraction, bool with_sign = false);

}  // namespace densevm::planner
