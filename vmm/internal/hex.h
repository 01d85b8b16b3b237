// "0x..." text for addresses in diagnostics (stop messages name RIP and addresses).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace densevm {

inline std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace densevm
