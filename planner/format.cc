#include "planner/format.h"

#include <cstdio>

namespace densevm::planner {

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  unsigned u = 0;
  while (v >= 1024.0 && u + 1 < std::size(kUnits)) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

std::string format_percent(double fraction, bool with_sign) {
  char buf[32];
  std::snprintf(buf, sizeof buf, with_sign ? "%+.1f%%" : "%.1f%%", fraction * 100.0);
  return buf;
}

}  // namespace densevm::planner
